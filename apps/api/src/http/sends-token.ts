/**
 * Marks the routes that request a token send (create, resend). On those, an
 * unreachable Redis or queue is reported as the contract's OBD000097.
 */
import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';

export const SendsToken = () => RouteConfig({ sendsToken: true });

export function routeSendsToken(request: FastifyRequest): boolean {
  const config = request.routeOptions?.config as { sendsToken?: boolean } | undefined;
  return config?.sendsToken === true;
}
