/** Device life cycle: which statuses exist and which moves between them are legal. */
export const DeviceStatus = {
  pending: 'pending_2fa_approval',
  created: 'created',
  disabled: 'disabled',
  rejected: 'rejected',
} as const;

export type DeviceStatus = (typeof DeviceStatus)[keyof typeof DeviceStatus];

const TRANSITIONS: Record<DeviceStatus, readonly DeviceStatus[]> = {
  pending_2fa_approval: ['created', 'rejected', 'disabled'],
  created: ['disabled'],
  rejected: ['disabled'],
  disabled: [],
};

export function canTransition(from: DeviceStatus, to: DeviceStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function isDeviceStatus(value: string): value is DeviceStatus {
  return Object.prototype.hasOwnProperty.call(TRANSITIONS, value);
}

export interface StatusEvent {
  new_status: DeviceStatus;
  event_date: string;
}
