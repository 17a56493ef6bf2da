import { backoffDelay, currentAttempt, dispatchJobOptions, failsForGood, isSendTokenPayload, maxRetryWindowMs, sendTokenJob } from './index';

describe('dispatch retry policy', () => {
  it('doubles the delay each attempt, with half of it jittered', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 1000, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 1000, () => 0.999999))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('bounds the total wait between attempts', () => {
    expect(maxRetryWindowMs({ attempts: 6, backoffMs: 1000 })).toBe(31_000);
    expect(maxRetryWindowMs({ attempts: 1, backoffMs: 1000 })).toBe(0);
  });

  it('retries with the custom backoff and keeps finished jobs as long as the settings say, and no more than JOBS_KEPT', () => {
    const opts = dispatchJobOptions({ attempts: 6, backoffMs: 1000 }, { completedJobSeconds: 60, failedJobSeconds: 600 });
    expect(opts.attempts).toBe(6);
    expect(opts.backoff).toEqual({ type: 'exponential-jitter' });
    expect(opts.removeOnComplete).toEqual({ age: 60, count: 10_000 });
    expect(opts.removeOnFail).toEqual({ age: 600, count: 10_000 });
  });
});

describe('the send-token payload', () => {
  it('is the dispatch id and the request id, nothing else', () => {
    expect(isSendTokenPayload({ dispatchId: 'd-1', requestId: 'r-1' })).toBe(true);
    expect(isSendTokenPayload({ requestId: 'r-1', dispatchId: 'd-1' })).toBe(true);
  });

  it.each([
    ['an extra field', { dispatchId: 'd-1', requestId: 'r-1', accountKey: 'a-1' }],
    ['a missing request id', { dispatchId: 'd-1' }],
    ['a number as id', { dispatchId: 1, requestId: 'r-1' }],
    ['an empty id', { dispatchId: '', requestId: 'r-1' }],
    ['an array', ['d-1', 'r-1']],
    ['null', null],
    ['a string', 'd-1'],
  ])('refuses %s', (_case, data) => {
    expect(isSendTokenPayload(data)).toBe(false);
  });
});

describe('attempts', () => {
  it('counts the attempt a running job is on from the attempts made before it', () => {
    expect(currentAttempt({ attemptsMade: 0 })).toBe(1);
    expect(currentAttempt({ attemptsMade: 5 })).toBe(6);
  });

  it('ends a job for good on a permanent failure or on its last allowed attempt, not before', () => {
    expect(failsForGood(1, 6, true)).toBe(true);
    expect(failsForGood(5, 6, false)).toBe(false);
    expect(failsForGood(6, 6, false)).toBe(true);
    expect(failsForGood(1, undefined, false)).toBe(true);
  });

  it('builds the send job of a dispatch with the dispatch id as job id and nothing but ids as data', () => {
    const job = sendTokenJob(
      { dispatchId: 'd-1', requestId: 'r-1', extra: 'x' } as never,
      { attempts: 3, backoffMs: 100 },
      { completedJobSeconds: 1, failedJobSeconds: 1 },
    );
    expect(job).toEqual({ name: 'send-token', data: { dispatchId: 'd-1', requestId: 'r-1' }, opts: expect.objectContaining({ jobId: 'd-1', attempts: 3 }) });
  });
});
