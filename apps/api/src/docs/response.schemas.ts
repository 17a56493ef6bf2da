/**
 * Response bodies as zod schemas, for the OpenAPI document only (the handlers
 * return the plain objects of device-response.ts). The type checks at the end
 * fail the build if a schema and the type the code returns drift apart.
 */
import { z } from 'zod';
import { CONTACT_TYPES, DeviceStatus, ERROR_CATALOG, type ErrorCode, type ErrorEnvelope } from '@lib/domain';
import type { DispatchState } from '@lib/store';
import type { DeviceDetailsResponse, DeviceStatusResponse } from '../device/device-response';

const isoTime = z.string().meta({ format: 'date-time' });
const uuid = z.string().meta({ format: 'uuid' });
const deviceStatus = z.enum(DeviceStatus);
const DISPATCH_STATES = ['queued', 'sending', 'retrying', 'sent', 'failed', 'skipped', 'refused'] as const satisfies readonly DispatchState[];

export const DeviceStatusResponseSchema = z.object({
  device_key: uuid,
  device_status: deviceStatus,
  created_at: isoTime.meta({ description: 'When the device was created.' }),
});

export const DeviceDetailsResponseSchema = DeviceStatusResponseSchema.extend({
  session_id: uuid,
  contact_type: z.string().meta({ description: `The channel the device asked for: ${CONTACT_TYPES.join(' or ')}.` }),
  status_events: z.array(z.object({ new_status: deviceStatus, event_date: isoTime })),
  token_dispatch: z
    .object({
      dispatch_id: uuid,
      state: z.enum(DISPATCH_STATES).meta({ description: "The worker's view of the send. `refused`: its queue job was edited or forged and sent nothing." }),
      channel: z.string(),
      destination: z.string().meta({ description: 'Masked phone number or e-mail address.' }),
      attempts: z.number().int(),
      provider: z.string().nullable(),
      provider_message_id: z.string().nullable(),
      last_error_code: z.string().nullable().meta({ description: 'Why the last attempt failed, e.g. `twilio_21211`, `http_503`, `timeout`.' }),
      requested_at: isoTime,
      sent_at: isoTime.nullable(),
      updated_at: isoTime,
      delivery_status: z.string().nullable().meta({
        description: "The provider's latest delivery receipt (Twilio): `queued`, `sent`, `delivered`, `undelivered`, `failed`…; null until one arrives.",
      }),
      delivery_error_code: z.string().nullable().meta({ description: "The provider's error code from the receipt, e.g. `twilio_30003`." }),
      delivery_updated_at: isoTime.nullable(),
      refused_jobs: z
        .number()
        .int()
        .meta({ description: 'Queue jobs naming this send that were refused because their data did not match the store (edited or forged).' }),
    })
    .nullable()
    .meta({ description: '(ours) The latest token send, so a caller can see what happened to it. Never the token.' }),
});

export const PutClientResponseSchema = z.object({ client_key: uuid, name: z.string() });

export const PutAccountResponseSchema = z.object({
  account_key: uuid,
  client_key: uuid,
  status: z.enum(['active', 'blocked', 'closed']),
  kind: z.enum(['regular', 'hub']),
  approvers: z.number().int().meta({ description: 'How many approvers the account now has.' }),
});

export const ErrorEnvelopeSchema = z.object({
  title: z.string(),
  description: z.string().meta({ description: 'English text.' }),
  translation: z.string().meta({ description: 'Brazilian Portuguese text.' }),
  code: z.enum(Object.keys(ERROR_CATALOG) as [ErrorCode, ...ErrorCode[]]),
  extra_fields: z.record(z.string(), z.unknown()).meta({ description: 'Structured detail, e.g. which field was wrong and why. Never a secret.' }),
});

// --- the schemas say what the code returns --------------------------------------
// Same fields, and every value the schema allows is one the type allows (the
// schema may be more precise, e.g. an enum where the type says string).
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
type Describes<Schema, Type> = [Schema] extends [Type] ? SameKeys<NonNullable<Schema>, NonNullable<Type>> : false;
type Details = z.output<typeof DeviceDetailsResponseSchema>;
const checks: [
  Describes<z.output<typeof DeviceStatusResponseSchema>, DeviceStatusResponse>,
  Describes<Details, DeviceDetailsResponse>,
  Describes<Details['token_dispatch'], DeviceDetailsResponse['token_dispatch']>,
  Describes<Details['status_events'][number], DeviceDetailsResponse['status_events'][number]>,
  Describes<z.output<typeof ErrorEnvelopeSchema>, ErrorEnvelope>,
] = [true, true, true, true, true];
void checks;
