/**
 * Counts and times every HTTP answer from a Fastify `onResponse` hook, so
 * requests refused before a controller runs (authentication, body parsing,
 * unknown routes) are measured too. The route label is Fastify's route
 * pattern; a request that matched no route is `unmatched`.
 */
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiMetrics } from './api-metrics';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function routeLabel(request: FastifyRequest): string {
  return request.is404 ? 'unmatched' : (request.routeOptions?.url ?? 'unmatched');
}

@Injectable()
export class HttpMetricsHook implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly metrics: ApiMetrics,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
      const method = METHODS.has(request.method) ? request.method : 'OTHER';
      this.metrics.httpRequest(method, routeLabel(request), reply.statusCode, reply.elapsedTime / 1000);
    });
  }
}
