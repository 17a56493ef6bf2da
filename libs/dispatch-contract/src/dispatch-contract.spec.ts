import { backoffDelay, dispatchJobOptions, maxRetryWindowMs } from './index';

describe('dispatch retry policy', () => {
  it('doubles the delay each attempt, with half of it jittered', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 1000, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 1000, () => 0.999999))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('bounds the total wait between attempts', () => {
    expect(maxRetryWindowMs({ attempts: 6, backoffMs: 1000 })).toBe(31_000);
    expect(maxRetryWindowMs({ attempts: 1, backoffMs: 1000 })).toBe(0);
  });

  it('retries with the custom backoff and keeps failed jobs for inspection', () => {
    const opts = dispatchJobOptions({ attempts: 6, backoffMs: 1000 });
    expect(opts.attempts).toBe(6);
    expect(opts.backoff).toEqual({ type: 'exponential-jitter' });
    expect(opts.removeOnFail).toEqual({ age: 7 * 24 * 3600 });
  });
});
