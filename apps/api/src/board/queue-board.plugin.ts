/**
 * Bull Board for the dispatch queue, mounted twice on the api's Fastify
 * instance: a full board at /admin/queues and a read-only one at
 * /admin/queues/readonly (its queue adapter is in `readOnlyMode`, so the UI
 * shows no actions and Bull Board refuses them).
 *
 * Each board lives in its own encapsulated plugin whose onRequest hook runs
 * before any of its routes (pages, static assets, API), so nothing of the
 * board is served without credentials:
 * - no or wrong credentials: 401 with a Basic challenge (browsers ask for a login);
 * - the read-only user on the full board: sent to the same page of the
 *   read-only board (GET/HEAD), refused (403) for anything else;
 * - on the read-only board, only GET/HEAD reach Bull Board at all (405
 *   otherwise), so a mutating route can never run there, whatever its own checks.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, envelopeFor } from '@lib/domain';
import type { BoardAccess, BoardCredentials } from './board-credentials';

export const BOARD_PATH = '/admin/queues';
export const READ_ONLY_BOARD_PATH = `${BOARD_PATH}/readonly`;

const CHALLENGE = 'Basic realm="Token dispatch queues", charset="UTF-8"';
const SAFE_METHODS = new Set(['GET', 'HEAD']);
/** Bull Board's own error body, so its UI shows a proper message. */
const READ_ONLY_ERROR = { error: { key: 'ERRORS.QUEUE_READ_ONLY' } };

/**
 * Queues both boards on the instance; Fastify loads them when it gets ready
 * (at listen). Not awaited on purpose: awaiting a registration loads every
 * plugin queued so far, Nest's routes included, and those routes would keep
 * the error handler they had at that moment instead of the one Nest sets
 * after its modules are initialised.
 */
export function registerQueueBoards(fastify: FastifyInstance, queue: Queue, credentials: BoardCredentials): void {
  void fastify.register(boardScope(queue, credentials, 'full'), { prefix: BOARD_PATH });
  void fastify.register(boardScope(queue, credentials, 'read-only'), { prefix: READ_ONLY_BOARD_PATH });
}

function boardScope(queue: Queue, credentials: BoardCredentials, board: BoardAccess) {
  const readOnly = board === 'read-only';
  const basePath = readOnly ? READ_ONLY_BOARD_PATH : BOARD_PATH;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    queues: [new BullMQAdapter(queue, { readOnlyMode: readOnly })],
    serverAdapter,
    options: { uiConfig: { boardTitle: readOnly ? 'Token dispatch (read-only)' : 'Token dispatch', hideDocsLink: true } },
  });

  return async (scope: FastifyInstance) => {
    // Hooks added here apply to every route registered below, in this scope only.
    scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const access = credentials.accessFor(request.headers.authorization);
      if (!access) {
        return reply.code(401).header('www-authenticate', CHALLENGE).send(envelopeFor(ErrorCodes.adminUnauthorized));
      }
      const safe = SAFE_METHODS.has(request.method);
      if (readOnly && !safe) return reply.code(405).header('allow', 'GET, HEAD').send(READ_ONLY_ERROR);
      if (!readOnly && access === 'read-only') {
        if (!safe) return reply.code(403).send(READ_ONLY_ERROR);
        const rest = request.url.startsWith(BOARD_PATH) ? request.url.slice(BOARD_PATH.length) : '';
        return reply.redirect(`${READ_ONLY_BOARD_PATH}${rest}`, 303);
      }
      return undefined;
    });
    // Unknown paths under the board answer after the same check, so without
    // credentials nothing below the prefix can be told apart.
    scope.setNotFoundHandler((_request, reply) => reply.code(404).send(envelopeFor(ErrorCodes.routeNotFound)));
    await scope.register(serverAdapter.registerPlugin());
  };
}
