/** Shapes of what the store keeps, as the rest of the code sees them. */
import type { Approver, ContactType, DeviceStatus, StatusEvent } from '@lib/domain';

export type AccountStatus = 'active' | 'blocked' | 'closed';
export type AccountKind = 'regular' | 'hub';

export interface ClientIntegration {
  clientKey: string;
  name: string;
  /** PEM (SPKI) public key the client signs requests with. */
  publicKey: string;
}

export interface Account {
  accountKey: string;
  clientKey: string;
  status: AccountStatus;
  kind: AccountKind;
  approvers: Approver[];
}

export interface Device {
  deviceKey: string;
  accountKey: string;
  sessionId: string;
  status: DeviceStatus;
  contactType: ContactType;
  approverDocument: string;
  createdAt: string;
  failedAttempts: number;
  latestDispatchId?: string;
}

/** `refused`: its job was edited or forged (see ARM_TOKEN) and sent nothing. */
export type DispatchState = 'queued' | 'sending' | 'retrying' | 'sent' | 'failed' | 'skipped' | 'refused';

/** The latest send of a token, as shown by the query endpoint. Never holds the token or a full address. */
export interface Dispatch {
  dispatchId: string;
  accountKey: string;
  deviceKey: string;
  channel: ContactType;
  state: DispatchState;
  attempts: number;
  destination: string;
  provider?: string;
  providerMessageId?: string;
  lastErrorCode?: string;
  requestedAt: string;
  sentAt?: string;
  updatedAt: string;
  /** The provider's last delivery receipt (Twilio status callback): `sent`, `delivered`, `undelivered`, `failed`… */
  deliveryStatus?: string;
  deliveryErrorCode?: string;
  deliveryUpdatedAt?: string;
  /** Jobs naming this dispatch that were refused as edited or forged. */
  refusedJobs: number;
}

export interface DeviceView {
  device: Device;
  events: StatusEvent[];
  dispatch?: Dispatch;
}
