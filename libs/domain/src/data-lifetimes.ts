/**
 * How long the service keeps what it writes (ours). Everything else it
 * writes either expires with the window it counts (send limits, guess
 * budgets, new-device caps, resend coalescing, used signatures) or is the
 * registration itself (a validated device, the client and account directory).
 */
export interface DataLifetimes {
  /**
   * A device never validated (pending, or rejected after too many wrong
   * codes) and its status history: deleted this long after its last send
   * request. Validation makes the device permanent.
   */
  readonly pendingDeviceSeconds: number;
  /** A send's record (state, masked destination, delivery status), from its request. */
  readonly dispatchSeconds: number;
  /** A provider's message id → the send it carried (delivery receipts), from the hand-off. */
  readonly providerMessageSeconds: number;
  /** A finished send job in the queue (the dashboard's history), from its completion. */
  readonly completedJobSeconds: number;
  /** A send job that failed for good, kept for inspection and a manual retry, from its failure. */
  readonly failedJobSeconds: number;
}

export const DEFAULT_DATA_LIFETIMES: DataLifetimes = {
  pendingDeviceSeconds: 7 * 24 * 3600,
  dispatchSeconds: 30 * 24 * 3600,
  providerMessageSeconds: 7 * 24 * 3600,
  completedJobSeconds: 24 * 3600,
  failedJobSeconds: 7 * 24 * 3600,
};
