import { canTransition, isDeviceStatus } from './device-status';

describe('device status transitions', () => {
  it.each([
    ['pending_2fa_approval', 'created', true],
    ['pending_2fa_approval', 'rejected', true],
    ['pending_2fa_approval', 'disabled', true],
    ['created', 'disabled', true],
    ['rejected', 'disabled', true],
    ['created', 'pending_2fa_approval', false],
    ['rejected', 'created', false],
    ['disabled', 'created', false],
    ['disabled', 'pending_2fa_approval', false],
  ] as const)('%s → %s allowed: %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
  });

  it('recognises only known statuses', () => {
    expect(isDeviceStatus('created')).toBe(true);
    expect(isDeviceStatus('approved')).toBe(false);
  });
});
