/**
 * The api's side of the dispatch queue: it adds a dispatch's send job once the
 * store has recorded the dispatch (token-sender.ts), through the BullMQ Queue
 * @nestjs/bullmq registers (the dashboard, the health check and the depth
 * gauge read the same one). The job's id is the dispatch id, so adding it
 * again (a coalesced request, the worker's repair of a pending dispatch) is
 * harmless: BullMQ keeps the first.
 */
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { ApiConfig } from '@lib/config';
import { DISPATCH_QUEUE, sendTokenJob, type SendTokenPayload } from '@lib/dispatch-contract';
import { InfrastructureError } from '@lib/domain';
import { APP_CONFIG } from './tokens';

@Injectable()
export class DispatchQueue implements OnModuleInit {
  constructor(
    @InjectQueue(DISPATCH_QUEUE) readonly queue: Queue<SendTokenPayload>,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
  ) {}

  onModuleInit(): void {
    // Without a listener BullMQ prints every connection error; an outage is
    // reported through the health check and the requests' own errors.
    this.queue.on('error', () => undefined);
  }

  /** Adds the dispatch's send job (a no-op if it exists); a Redis failure is an InfrastructureError. */
  async add(payload: SendTokenPayload): Promise<void> {
    const job = sendTokenJob(payload, this.config.retry, this.config.lifetimes);
    try {
      await this.queue.add(job.name, job.data, job.opts);
    } catch (err) {
      throw new InfrastructureError('redis', { cause: err });
    }
  }
}
