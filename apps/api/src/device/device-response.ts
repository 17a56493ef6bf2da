/** Response bodies of the device endpoints. */
import type { DeviceStatus, StatusEvent } from '@lib/domain';
import type { DeviceView } from '@lib/store';

export interface DeviceStatusResponse {
  device_key: string;
  device_status: DeviceStatus;
  created_at: string;
}

export interface DeviceDetailsResponse extends DeviceStatusResponse {
  session_id: string;
  contact_type: string;
  status_events: StatusEvent[];
  token_dispatch: null | {
    dispatch_id: string;
    state: string;
    channel: string;
    destination: string;
    attempts: number;
    provider: string | null;
    provider_message_id: string | null;
    last_error_code: string | null;
    requested_at: string;
    sent_at: string | null;
    updated_at: string;
    /** The provider's latest delivery receipt for the message (ours): `sent`, `delivered`, `undelivered`, `failed`… */
    delivery_status: string | null;
    delivery_error_code: string | null;
    delivery_updated_at: string | null;
    /** Queue jobs naming this send that were refused as edited or forged (ours). */
    refused_jobs: number;
  };
}

export function statusResponse(deviceKey: string, status: DeviceStatus, createdAt: string): DeviceStatusResponse {
  return { device_key: deviceKey, device_status: status, created_at: createdAt };
}

export function detailsResponse(view: DeviceView): DeviceDetailsResponse {
  const { device, events, dispatch } = view;
  return {
    device_key: device.deviceKey,
    session_id: device.sessionId,
    device_status: device.status,
    contact_type: device.contactType,
    created_at: device.createdAt,
    status_events: events,
    token_dispatch: dispatch
      ? {
          dispatch_id: dispatch.dispatchId,
          state: dispatch.state,
          channel: dispatch.channel,
          destination: dispatch.destination,
          attempts: dispatch.attempts,
          provider: dispatch.provider ?? null,
          provider_message_id: dispatch.providerMessageId ?? null,
          last_error_code: dispatch.lastErrorCode ?? null,
          requested_at: dispatch.requestedAt,
          sent_at: dispatch.sentAt ?? null,
          updated_at: dispatch.updatedAt,
          delivery_status: dispatch.deliveryStatus ?? null,
          delivery_error_code: dispatch.deliveryErrorCode ?? null,
          delivery_updated_at: dispatch.deliveryUpdatedAt ?? null,
          refused_jobs: dispatch.refusedJobs,
        }
      : null,
  };
}
