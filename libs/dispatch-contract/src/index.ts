/**
 * The queue contract shared by the API (producer) and the worker (consumer):
 * queue and job names, the typed payload and the job options. A payload
 * names its dispatch and nothing the send depends on: job data is shown and
 * can be edited on the dashboard, so the worker reads the device, account,
 * channel and approver from the store (ARM_TOKEN) and refuses a job whose
 * data disagrees with it. Never a code, a secret or contact data.
 */

import type { ContactType } from '@lib/domain';

/**
 * A send queue per channel, so that each provider's send rate is limited on
 * its own (BullMQ's limiter and its manual rate limit act on a whole queue):
 * SMS through Twilio, e-mail through SES. A dispatch's job goes to the queue
 * of the channel its record names.
 */
export const DISPATCH_QUEUES: Readonly<Record<ContactType, string>> = { sms: 'token-dispatch-sms', email: 'token-dispatch-email' };
export const DISPATCH_CHANNELS: readonly ContactType[] = ['sms', 'email'];
/** The worker's maintenance queue: a job scheduler there runs the pending-dispatch repair. */
export const REPAIR_QUEUE = 'token-dispatch-repair';

export const DispatchJobName = {
  sendToken: 'send-token',
} as const;
export type DispatchJobName = (typeof DispatchJobName)[keyof typeof DispatchJobName];

export interface SendTokenPayload {
  /** Identifies this send request; also the BullMQ job id. */
  dispatchId: string;
  /** Correlates the API request with every worker log line of this dispatch. */
  requestId: string;
}

/** Whether job data has exactly the payload's shape (two non-empty strings, nothing else). */
export function isSendTokenPayload(data: unknown): data is SendTokenPayload {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return false;
  const keys = Object.keys(data).sort();
  const d = data as Record<string, unknown>;
  return keys.length === 2 && keys[0] === 'dispatchId' && keys[1] === 'requestId' && isId(d.dispatchId) && isId(d.requestId);
}

const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 128;

export interface DispatchJob {
  name: typeof DispatchJobName.sendToken;
  data: SendTokenPayload;
}

export interface DispatchRetryPolicy {
  /** Total attempts, first one included. */
  attempts: number;
  /** First backoff delay; doubles each retry, with full jitter. */
  backoffMs: number;
}

/** The number (1-based) of the attempt a job is on while its processor runs (BullMQ counts attempts made before it). */
export const currentAttempt = (job: { attemptsMade: number }): number => job.attemptsMade + 1;

/**
 * Whether a failure of attempt `attempt` (1-based) ends the job for good: a
 * permanent failure, or the last attempt the job's options allow. The one
 * place this is decided, for the dispatch record, the metrics and the log.
 */
export function failsForGood(attempt: number, allowedAttempts: number | undefined, permanent: boolean): boolean {
  return permanent || attempt >= (allowedAttempts ?? 1);
}

/** Custom backoff strategy name registered by the worker. */
export const BACKOFF_STRATEGY = 'exponential-jitter';

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half is
 * random, so retries spread out yet never collapse to zero.
 */
export function backoffDelay(attemptsMade: number, baseMs: number, random: () => number = Math.random): number {
  const ceiling = baseMs * 2 ** Math.max(0, attemptsMade - 1);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Worst-case time spent waiting between attempts; must stay under the token lifetime. */
export function maxRetryWindowMs(policy: DispatchRetryPolicy): number {
  let total = 0;
  for (let made = 1; made < policy.attempts; made += 1) total += policy.backoffMs * 2 ** (made - 1);
  return total;
}

/**
 * The send job of one dispatch, as `queue.add(name, data, opts)` takes it. Its
 * id is the dispatch id, so a dispatch never has two jobs: the api adds it
 * after recording the dispatch (again on a coalesced request), the worker's
 * repair adds it for a dispatch still pending, and BullMQ keeps the first.
 */
export function sendTokenJob(payload: SendTokenPayload, policy: DispatchRetryPolicy, retention: JobRetention) {
  return {
    name: DispatchJobName.sendToken,
    data: { dispatchId: payload.dispatchId, requestId: payload.requestId } satisfies SendTokenPayload,
    opts: { ...dispatchJobOptions(policy, retention), jobId: payload.dispatchId },
  };
}

/**
 * How long finished send jobs stay in the queue (COMPLETED_JOB_TTL_SECONDS,
 * FAILED_JOB_TTL_SECONDS). BullMQ removes them as later jobs finish, and
 * keeps at most JOBS_KEPT of each kind whatever their age.
 */
export interface JobRetention {
  completedJobSeconds: number;
  failedJobSeconds: number;
}

/** The most finished send jobs of each kind (completed, failed) the queue keeps. */
export const JOBS_KEPT = 10_000;

/** Options of every send job (its id, `jobId`, is set per job: see sendTokenJob). */
export function dispatchJobOptions(policy: DispatchRetryPolicy, retention: JobRetention) {
  return {
    attempts: policy.attempts,
    backoff: { type: BACKOFF_STRATEGY },
    // Completed jobs are the dashboard's history and trace a send.
    removeOnComplete: { age: retention.completedJobSeconds, count: JOBS_KEPT },
    // Failed jobs are kept for inspection and a manual retry from the dashboard.
    removeOnFail: { age: retention.failedJobSeconds, count: JOBS_KEPT },
  };
}
