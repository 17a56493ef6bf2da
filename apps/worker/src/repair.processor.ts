/**
 * The pending-dispatch repair, so that a 202 means the send will happen.
 *
 * The api records a dispatch (as pending) and then adds its job: two steps.
 * Should it die between them, the dispatch would wait forever. A BullMQ job
 * scheduler on the repair queue runs this every DISPATCH_REPAIR_INTERVAL_MS,
 * on one worker at a time: each dispatch pending for longer than an interval
 * whose job does not exist gets it, with the same job id (so a job added
 * meanwhile by the api is kept, and nothing is sent twice). A dispatch whose
 * job exists but has not run yet is left alone. One pending for longer than
 * REPAIR_GIVE_UP_MS is no longer tracked: if it never got a job it is recorded
 * as failed (`not_queued`), a code that late being of no use.
 *
 * The same run removes finished send jobs past their lifetime
 * (COMPLETED_JOB_TTL_SECONDS, FAILED_JOB_TTL_SECONDS): BullMQ removes them by
 * age only as later jobs finish, so without it a quiet queue would keep its
 * last jobs for good.
 */
import { InjectQueue, OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { WorkerConfig } from '@lib/config';
import { DISPATCH_QUEUES, REPAIR_QUEUE, sendTokenJob, type SendTokenPayload } from '@lib/dispatch-contract';
import type { ContactType } from '@lib/domain';
import { DeviceRepository } from '@lib/store';
import { APP_CONFIG } from './worker.tokens';

/** Pending dispatches looked at per run, oldest first. */
const BATCH = 500;
/** A dispatch pending this long is given up (the token's hand-off would be an hour late). */
export const REPAIR_GIVE_UP_MS = 60 * 60 * 1000;
const SCHEDULER_ID = 'repair-pending-dispatches';

export interface RepairResult {
  requeued: number;
  waiting: number;
  givenUp: number;
  /** Finished send jobs removed past their lifetime. */
  removed: number;
}

@Processor(REPAIR_QUEUE, { autorun: false, concurrency: 1 })
export class RepairProcessor extends WorkerHost implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger('DispatchRepair');

  constructor(
    @Inject(APP_CONFIG) private readonly config: WorkerConfig,
    private readonly devices: DeviceRepository,
    @InjectQueue(DISPATCH_QUEUES.sms) sms: Queue<SendTokenPayload>,
    @InjectQueue(DISPATCH_QUEUES.email) email: Queue<SendTokenPayload>,
    @InjectQueue(REPAIR_QUEUE) private readonly repairs: Queue,
  ) {
    super();
    this.dispatches = { sms, email };
  }

  /** The send queue of each channel. */
  private readonly dispatches: Readonly<Record<ContactType, Queue<SendTokenPayload>>>;

  onModuleInit(): void {
    // The worker's queues (BullMQ prints their connection errors unless someone
    // listens): an outage is reported by the health check and the processors.
    for (const queue of [this.dispatches.sms, this.dispatches.email, this.repairs]) queue.on('error', () => undefined);
  }

  onApplicationBootstrap(): void {
    // Every worker upserts the same scheduler: one schedule, one run per
    // interval, whichever worker takes it. Not awaited: with Redis down the
    // worker starts anyway, and the call goes through when Redis is back.
    this.repairs
      .upsertJobScheduler(
        SCHEDULER_ID,
        { every: this.config.worker.repairIntervalMs },
        { name: 'repair', opts: { removeOnComplete: true, removeOnFail: { count: 100 } } },
      )
      .catch((err: Error) => this.logger.error(`could not schedule the repair of pending dispatches: ${err.message}`));
    this.worker.run().catch((err: Error) => this.logger.error(`repair worker stopped: ${err.message}`));
  }

  /**
   * The repair's own BullMQ Worker reports its connection's errors here. An
   * 'error' event nobody listens to is printed by BullMQ with console.error:
   * raw, multi-line stack traces among the JSON lines, for every reconnect.
   */
  @OnWorkerEvent('error')
  onError(err: Error): void {
    this.logger.warn(`queue connection: ${err.message}`);
  }

  async process(): Promise<RepairResult> {
    const now = Date.now();
    const pending = await this.devices.pendingDispatches(now - this.config.worker.repairIntervalMs, BATCH);
    const result: RepairResult = { requeued: 0, waiting: 0, givenUp: 0, removed: 0 };
    for (const p of pending) {
      const queue = this.dispatches[p.channel];
      // A record without a channel of ours is not one this service wrote: it only stops being tracked.
      const exists = queue ? (await queue.getJob(p.dispatchId)) !== undefined : true;
      if (now - p.requestedAtMs > REPAIR_GIVE_UP_MS) {
        await this.devices.dropPending(p.dispatchId, exists);
        result.givenUp += 1;
      } else if (exists) {
        result.waiting += 1;
      } else {
        const job = sendTokenJob(p, this.config.retry, this.config.lifetimes);
        await queue.add(job.name, job.data, job.opts);
        result.requeued += 1;
        this.logger.warn(`[request ${p.requestId}] [dispatch ${p.dispatchId}] its job was missing: queued again`);
      }
    }
    if (result.givenUp > 0) this.logger.warn(`gave up ${result.givenUp} dispatches pending for over ${REPAIR_GIVE_UP_MS / 60_000} minutes`);
    const { completedJobSeconds, failedJobSeconds } = this.config.lifetimes;
    for (const queue of [this.dispatches.sms, this.dispatches.email]) {
      for (const [kind, seconds] of [
        ['completed', completedJobSeconds],
        ['failed', failedJobSeconds],
      ] as const) {
        result.removed += (await queue.clean(seconds * 1000, BATCH, kind)).length;
      }
    }
    return result;
  }
}
