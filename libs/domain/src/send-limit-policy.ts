/**
 * Send limits (ours): protect approvers from floods and the bank from SMS
 * pumping. Repeated requests inside the coalescing window share one send;
 * beyond the hourly caps requests are refused with DTS000004.
 */
export interface SendLimitPolicy {
  readonly coalesceWindowSeconds: number;
  readonly perDevicePerHour: number;
  readonly perDestinationPerHour: number;
}

export const DEFAULT_SEND_LIMIT_POLICY: SendLimitPolicy = {
  coalesceWindowSeconds: 30,
  perDevicePerHour: 5,
  perDestinationPerHour: 10,
};

export const SEND_LIMIT_WINDOW_MS = 60 * 60 * 1000;

export type SendLimitHit = 'device' | 'destination';
