import { replayMemoryMs } from './request-verifier';

describe('replay memory', () => {
  it('lasts the accepted window on both sides of the timestamp plus the margin for clock skew between instances', () => {
    expect(replayMemoryMs({ authMaxClockSkewSeconds: 300, authClockSkewMarginSeconds: 60 })).toBe(660_000);
    expect(replayMemoryMs({ authMaxClockSkewSeconds: 5, authClockSkewMarginSeconds: 0 })).toBe(10_000);
  });
});
