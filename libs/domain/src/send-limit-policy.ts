/**
 * Send limits (ours): protect approvers from floods and the bank from SMS
 * pumping. Repeated requests inside the coalescing window share one send;
 * beyond the caps within the rolling window, requests are refused with
 * DTS000004.
 */
export interface SendLimitPolicy {
  readonly coalesceWindowSeconds: number;
  /** Sends per device within `windowSeconds`. */
  readonly perDevice: number;
  /** Sends per destination (phone number or e-mail address), all devices together, within `windowSeconds`. */
  readonly perDestination: number;
  readonly windowSeconds: number;
}

export const DEFAULT_SEND_LIMIT_POLICY: SendLimitPolicy = {
  coalesceWindowSeconds: 30,
  perDevice: 5,
  perDestination: 10,
  windowSeconds: 3600,
};

export type SendLimitHit = 'device' | 'destination';
