/**
 * The api's side of the send queues (one per channel): it adds a dispatch's
 * send job to its channel's queue once the store has recorded the dispatch
 * (token-sender.ts), through the BullMQ Queues @nestjs/bullmq registers (the
 * dashboard, the health check and the depth gauge read the same ones). The
 * job's id is the dispatch id, so adding it again (a coalesced request, the
 * worker's repair of a pending dispatch) is harmless: BullMQ keeps the first.
 */
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { ApiConfig } from '@lib/config';
import { DISPATCH_QUEUES, sendTokenJob, type SendTokenPayload } from '@lib/dispatch-contract';
import { InfrastructureError, type ContactType } from '@lib/domain';
import { perTurnBatch } from '@lib/store';
import { APP_CONFIG } from './tokens';

type SendJob = ReturnType<typeof sendTokenJob>;
type AddJob = (job: SendJob) => Promise<unknown>;

@Injectable()
export class DispatchQueue implements OnModuleInit {
  private readonly byChannel: Readonly<Record<ContactType, Queue<SendTokenPayload>>>;
  private readonly adders: Readonly<Record<ContactType, AddJob>>;

  constructor(
    @InjectQueue(DISPATCH_QUEUES.sms) sms: Queue<SendTokenPayload>,
    @InjectQueue(DISPATCH_QUEUES.email) email: Queue<SendTokenPayload>,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
  ) {
    this.byChannel = { sms, email };
    this.adders = { sms: this.adder(sms), email: this.adder(email) };
  }

  /**
   * How a channel's jobs reach Redis. Untraced, the jobs added in the same
   * turn of the event loop go together (`addBulk`: one round trip), and a
   * turn's only job with `add`, which costs the api about half as much CPU
   * as an `addBulk` of one: no pipeline to build (ADR 8). Traced, each goes
   * on its own, in its request's context: its producer span, and the
   * worker's after it, belong to that request's trace (an addBulk would put
   * a whole batch under the first request's).
   */
  private adder(queue: Queue<SendTokenPayload>): AddJob {
    const addOne = (job: SendJob) => queue.add(job.name, job.data, job.opts);
    if (queue.opts.telemetry) return addOne;
    const jobs = perTurnBatch<SendJob, unknown>(async (batch) => queue.addBulk([...batch]), addOne);
    return (job) => jobs.load(job);
  }

  /** Every send queue, SMS first. */
  get queues(): Queue<SendTokenPayload>[] {
    return [this.byChannel.sms, this.byChannel.email];
  }

  onModuleInit(): void {
    // Without a listener BullMQ prints every connection error; an outage is
    // reported through the health check and the requests' own errors.
    for (const queue of this.queues) queue.on('error', () => undefined);
  }

  /** Adds the dispatch's send job to its channel's queue (a no-op if it exists); a Redis failure is an InfrastructureError. */
  async add(payload: SendTokenPayload, channel: ContactType): Promise<void> {
    const job = sendTokenJob(payload, this.config.retry, this.config.lifetimes);
    try {
      await this.adders[channel](job);
    } catch (err) {
      throw new InfrastructureError('redis', { cause: err });
    }
  }
}
