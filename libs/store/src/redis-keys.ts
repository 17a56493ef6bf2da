/**
 * Every Redis key the service writes, in one place. All keys start with the
 * configured prefix, so tests (and several environments on one Redis) never
 * collide, and an operator can find the service's data with one pattern.
 * Contact data never appears in a key name: destinations are keyed by a
 * keyed hash of the address.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  client(clientKey: string): string {
    return `${this.prefix}:client:${clientKey}`;
  }
  account(accountKey: string): string {
    return `${this.prefix}:account:${accountKey}`;
  }
  /**
   * A device belongs to its account: the same device key under two accounts
   * (or two clients) names two devices, so nobody can learn of, or block,
   * another account's device by its key.
   */
  device(accountKey: string, deviceKey: string): string {
    return `${this.account(accountKey)}:device:${deviceKey}`;
  }
  deviceEvents(accountKey: string, deviceKey: string): string {
    return `${this.device(accountKey, deviceKey)}:events`;
  }
  dispatch(dispatchId: string): string {
    return `${this.prefix}:dispatch:${dispatchId}`;
  }
  /** Dispatches recorded whose job has not run yet, scored by request time (REQUEST_DISPATCH, ARM_TOKEN). */
  get pendingDispatches(): string {
    return `${this.prefix}:dispatches:pending`;
  }
  coalesce(accountKey: string, deviceKey: string): string {
    return `${this.prefix}:limit:coalesce:${accountKey}:${deviceKey}`;
  }
  deviceSends(accountKey: string, deviceKey: string): string {
    return `${this.prefix}:limit:device:${accountKey}:${deviceKey}`;
  }
  destinationSends(destinationDigest: string): string {
    return `${this.prefix}:limit:destination:${destinationDigest}`;
  }
  /** Failed validations on any device of the account, in the guess window (members name the approver). */
  guesses(accountKey: string): string {
    return `${this.prefix}:limit:guesses:${accountKey}`;
  }
  /** Devices the account created, in the guess window. */
  deviceCreations(accountKey: string): string {
    return `${this.prefix}:limit:device-creations:${accountKey}`;
  }
  /** A provider's message id → the dispatch it carried (for delivery receipts). */
  providerMessage(provider: string, providerMessageId: string): string {
    return `${this.prefix}:provider-message:${provider}:${providerMessageId}`;
  }
  /** Pub/sub channel on which a changed client integration's key is announced (ClientCache). */
  get clientChanges(): string {
    return `${this.prefix}:directory:client-changed`;
  }
  replay(signatureDigest: string): string {
    return `${this.prefix}:replay:${signatureDigest}`;
  }
  /**
   * Read, never written, by the readiness checks: a key of the service's, so
   * in a Cluster the read goes to the master of the service's slot.
   */
  get healthProbe(): string {
    return `${this.prefix}:health-probe`;
  }
  /** BullMQ prefix: queue keys live under `<prefix>:bull:<queue>:…`. */
  get queuePrefix(): string {
    return `${this.prefix}:bull`;
  }
}
