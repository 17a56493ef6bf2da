/**
 * Bull Board for the dispatch queue, mounted twice on the api's Fastify
 * instance: a full board at /admin/queues and a read-only one at
 * /admin/queues/readonly (its queue adapter is in `readOnlyMode`, so the UI
 * shows no actions and Bull Board refuses them).
 *
 * Each board lives in its own encapsulated plugin whose onRequest hooks run
 * before any of its routes (pages, static assets, API), in this order:
 * - hardening headers on every answer of the scope, refusals included
 *   (@fastify/helmet, BOARD_HELMET): no framing (clickjacking), no sniffing,
 *   referrers kept on the site, a CSP that lets only the board's own scripts run;
 * - no or wrong credentials: 401 with a Basic challenge (browsers ask for a login);
 * - on the read-only board, only GET/HEAD reach Bull Board at all (405
 *   otherwise), so a mutating route can never run there, whatever its own checks;
 * - on the full board, a change (any method but GET/HEAD) must come from the
 *   board's own page (same-origin.ts), else 403 DTS000015: the browser
 *   attaches its cached Basic credentials to requests other sites' pages
 *   make, and a bodiless POST (Bull Board's add route) needs no CORS grant.
 *   A bearer token is never attached by a browser, so a tool using it may
 *   send no Origin at all, but not a foreign one;
 * - the read-only user on the full board: sent to the same page of the
 *   read-only board (GET/HEAD), refused (403) for anything else.
 * All of it before the body is read and before Bull Board sees the request.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, envelopeFor } from '@lib/domain';
import type { BoardAccess, BoardCredentials } from './board-credentials';
import { provenanceOf } from './same-origin';

export const BOARD_PATH = '/admin/queues';
export const READ_ONLY_BOARD_PATH = `${BOARD_PATH}/readonly`;

const CHALLENGE = 'Basic realm="Token dispatch queues", charset="UTF-8"';
const SAFE_METHODS = new Set(['GET', 'HEAD']);
/** Bull Board's own error body, so its UI shows a proper message. */
const READ_ONLY_ERROR = { error: { key: 'ERRORS.QUEUE_READ_ONLY' } };

/**
 * What Bull Board 9's UI needs, and no more (checked in Chromium by
 * test/e2e/dashboard): its scripts, stylesheets, fonts and highlight worker
 * come from its own static path and it talks only to its own API; its markup
 * and its editor set inline styles, hence 'unsafe-inline' for styles only.
 * The page's Google Fonts stylesheet is left out on purpose: an admin page
 * tells no third party when it is opened, and the board falls back to the
 * system's sans-serif. No `upgrade-insecure-requests` (helmet's default):
 * the board is also served over plain http locally. No HSTS either: TLS is
 * terminated in front, and HSTS is that proxy's call for the whole host.
 */
export const BOARD_HELMET: FastifyHelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      'default-src': ["'self'"],
      'base-uri': ["'self'"],
      'connect-src': ["'self'"],
      'font-src': ["'self'", 'data:'],
      'form-action': ["'self'"],
      'frame-ancestors': ["'none'"],
      'img-src': ["'self'", 'data:'],
      'object-src': ["'none'"],
      'script-src': ["'self'"],
      'script-src-attr': ["'none'"],
      'style-src': ["'self'", "'unsafe-inline'"],
      'worker-src': ["'self'"],
    },
  },
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'same-origin' },
  strictTransportSecurity: false,
};

/**
 * Queues both boards on the instance; Fastify loads them when it gets ready
 * (at listen). Not awaited on purpose: awaiting a registration loads every
 * plugin queued so far, Nest's routes included, and those routes would keep
 * the error handler they had at that moment instead of the one Nest sets
 * after its modules are initialised.
 */
export function registerQueueBoards(fastify: FastifyInstance, queues: readonly Queue[], credentials: BoardCredentials): void {
  void fastify.register(boardScope(queues, credentials, 'full'), { prefix: BOARD_PATH });
  void fastify.register(boardScope(queues, credentials, 'read-only'), { prefix: READ_ONLY_BOARD_PATH });
}

function boardScope(queues: readonly Queue[], credentials: BoardCredentials, board: BoardAccess) {
  const readOnly = board === 'read-only';
  const basePath = readOnly ? READ_ONLY_BOARD_PATH : BOARD_PATH;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: readOnly })),
    serverAdapter,
    options: { uiConfig: { boardTitle: readOnly ? 'Token dispatch (read-only)' : 'Token dispatch', hideDocsLink: true } },
  });

  return async (scope: FastifyInstance) => {
    // Hooks added here apply to every route registered below, in this scope
    // only; helmet's come first, so every answer below carries its headers.
    await scope.register(helmet, BOARD_HELMET);
    scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const grant = credentials.grantFor(request.headers.authorization);
      if (!grant) {
        return reply.code(401).header('www-authenticate', CHALLENGE).send(envelopeFor(ErrorCodes.adminUnauthorized));
      }
      const { access } = grant;
      const safe = SAFE_METHODS.has(request.method);
      if (readOnly && !safe) return reply.code(405).header('allow', 'GET, HEAD').send(READ_ONLY_ERROR);
      if (!readOnly && !safe) {
        const provenance = provenanceOf(request.headers, request.host);
        const allowed = provenance === 'same-origin' || (provenance === 'unknown' && grant.scheme === 'bearer');
        if (!allowed) return reply.code(403).send(envelopeFor(ErrorCodes.crossOrigin));
      }
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
