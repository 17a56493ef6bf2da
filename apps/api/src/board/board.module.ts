/**
 * The queue dashboard (Bull Board) on the api's send queues (one per channel), behind its own
 * authentication (see queue-board.plugin.ts). Queued on the Fastify instance
 * while the application initialises; Fastify loads it before it listens.
 */
import { Inject, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import type { ApiConfig } from '@lib/config';
import { DispatchQueue } from '../infrastructure/dispatch-queue';
import { APP_CONFIG } from '../infrastructure/tokens';
import { BoardCredentials } from './board-credentials';
import { registerQueueBoards } from './queue-board.plugin';

@Module({})
export class BoardModule implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly queue: DispatchQueue,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    registerQueueBoards(fastify, this.queue.queues, new BoardCredentials(this.config));
  }
}
