/**
 * Marks the routes that request a token send (create, resend). On those, an
 * unreachable Redis or queue is reported as the contract's OBD000097.
 * `readsDevice`: the route reads the account and the device its path names,
 * which authentication then reads in its replay check's round trip
 * (ClientAuthGuard, `req.authReads`).
 */
import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';

export const SendsToken = (options: { readsDevice?: boolean } = {}) => RouteConfig({ sendsToken: true, ...options });

export function routeSendsToken(request: FastifyRequest): boolean {
  const config = request.routeOptions?.config as { sendsToken?: boolean } | undefined;
  return config?.sendsToken === true;
}

export function routeReadsDevice(request: FastifyRequest): boolean {
  const config = request.routeOptions?.config as { readsDevice?: boolean } | undefined;
  return config?.readsDevice === true;
}
