/**
 * Authenticates a client integration: `API-CLIENT-KEY` names it, and
 * `AUTHORIZATION` carries a JWT signed by its private key. On success the
 * client key is attached to the request for the handlers.
 */
import { Injectable, createParamDecorator, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { DomainError, ErrorCodes } from '@lib/domain';
import { ClientCache, type RecordsReadWithReplayCheck } from '@lib/store';
import { routeReadsDevice } from '../http/sends-token';
import { RequestVerifier, unauthenticated } from './request-verifier';

declare module 'fastify' {
  interface FastifyRequest {
    clientKey?: string;
    /** The account and device the path names, read with the replay check (routes marked `readsDevice`). */
    authReads?: RecordsReadWithReplayCheck;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The path keys' form (device.schemas.ts UuidV4); anything else is refused by the route's validation, after authentication. */
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** The canonical account and device keys of the path, when the route reads both and both are well-formed. */
function readAlong(req: FastifyRequest): { accountKey: string; deviceKey: string } | undefined {
  if (!routeReadsDevice(req)) return undefined;
  const params = req.params as Record<string, string | undefined>;
  const accountKey = params.account_key;
  const deviceKey = params.device_key;
  if (!accountKey || !deviceKey || !UUID_V4.test(accountKey) || !UUID_V4.test(deviceKey)) return undefined;
  return { accountKey: accountKey.toLowerCase(), deviceKey: deviceKey.toLowerCase() };
}

function header(req: FastifyRequest, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first.trim() === '' ? undefined : first.trim();
}

@Injectable()
export class ClientAuthGuard implements CanActivate {
  constructor(
    private readonly clients: ClientCache,
    private readonly verifier: RequestVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const clientKey = header(req, 'api-client-key');
    if (!clientKey) throw new DomainError(ErrorCodes.noClientKey);
    // Only a canonical UUID is echoed back (upstream names the key it did not find); anything else is not.
    if (!UUID.test(clientKey)) throw new DomainError(ErrorCodes.unknownClient);
    const authorization = header(req, 'authorization');
    const client = await this.clients.get(clientKey.toLowerCase());
    if (!client) throw new DomainError(ErrorCodes.unknownClient, {}, { api_client_key: clientKey });
    if (!authorization) throw unauthenticated('AUTHORIZATION header missing');

    req.authReads = await this.verifier.verify({
      clientKey: client.clientKey,
      publicKeyPem: client.publicKey,
      authorization,
      method: req.method,
      path: req.url.split('?', 1)[0],
      rawBody: req.rawBody,
      readAlong: readAlong(req),
    });
    req.clientKey = client.clientKey;
    return true;
  }
}

/** The authenticated client's key, for handlers behind ClientAuthGuard. */
export const ClientKey = createParamDecorator((_data: unknown, ctx: ExecutionContext): string => {
  const key = ctx.switchToHttp().getRequest<FastifyRequest>().clientKey;
  if (!key) throw new Error('ClientKey used on a route without ClientAuthGuard');
  return key;
});
