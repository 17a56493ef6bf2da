/**
 * What the OpenAPI document says about each route, beside what the code
 * already says: summaries, which request and response schemas, examples, and
 * every error code the route can answer. Routes themselves (method, path,
 * success status) are read from the controllers; see openapi-document.ts.
 */
import type { Type } from '@nestjs/common';
import type { z } from 'zod';
import type { ErrorCode, ExtraFields } from '@lib/domain';
import { DeviceController } from '../device/device.controller';
import { CreateDeviceBody, ResendTokenBody, UuidV4, ValidateTokenBody } from '../device/device.schemas';
import { DirectoryController } from '../directory/directory.controller';
import { AnyUuid, PutAccountBody, PutClientBody } from '../directory/directory.schemas';
import { TwilioStatusController } from '../receipts/twilio-status.controller';
import { TwilioStatusCallbackBody } from '../receipts/twilio-status-callback';
import { DeviceDetailsResponseSchema, DeviceStatusResponseSchema, PutAccountResponseSchema, PutClientResponseSchema } from './response.schemas';

/** A named schema: it becomes `components.schemas[name]`. */
export interface NamedSchema {
  name: string;
  schema: z.ZodType;
}

export type SecurityKind = 'client' | 'admin' | 'twilio';

export interface RouteDoc {
  controller: Type<unknown>;
  handler: string;
  operationId: string;
  tag: string;
  summary: string;
  description: string;
  security: SecurityKind;
  body?: NamedSchema & {
    required: boolean;
    mediaType: 'application/json' | 'application/x-www-form-urlencoded';
    examples: Record<string, { summary: string; value: unknown }>;
  };
  success: { description: string; body?: NamedSchema; example?: unknown };
  /** Every code the route can answer, in the order its checks run. */
  errors: readonly ErrorCode[];
}

export const TAGS = [
  { name: 'Devices', description: 'The five device endpoints of the contract.' },
  { name: 'Internal admin', description: '(ours) Client integrations and accounts, for ops tooling, the CLI and tests.' },
  { name: 'Delivery receipts', description: "(ours) Twilio's status callbacks for the token SMS." },
];

/** Path parameters by name, with their schemas from the code. */
export const PATH_PARAMS: Record<string, { schema: z.ZodType; description: string; example: string }> = {
  account_key: {
    schema: UuidV4,
    description: 'Unique account identification key (UUID v4, 36 characters, hex digits in either case).',
    example: '3f1c8a52-7d4e-4b9a-9c1e-5a2b7d8e9f01',
  },
  device_key: {
    schema: UuidV4,
    description: 'Unique device identification key (UUID v4, 36 characters, hex digits in either case).',
    example: 'b6804f32-101e-4702-8fbc-c2dbc4c2caec',
  },
  client_key: { schema: AnyUuid, description: 'The client integration key (any UUID).', example: '0c7d2f4e-9a1b-4c3d-8e5f-6a7b8c9d0e1f' },
};

// The upstream resend page's example (device_key and created_at), used across the device endpoints.
const DEVICE_KEY = 'b6804f32-101e-4702-8fbc-c2dbc4c2caec';
const CREATED_AT = '2024-12-22T20:30:23.459Z';
const SESSION_ID = '5d2e8a10-3c4b-4f6a-9b7c-8d9e0f1a2b3c';
const DISPATCH_ID = '7a1f3c9e-2b4d-4e6f-8a0b-1c2d3e4f5a6b';
const MESSAGE_SID = 'SM1f0e2d3c4b5a69788796a5b4c3d2e1f0';
const statusExample = (device_status: string) => ({ device_key: DEVICE_KEY, device_status, created_at: CREATED_AT });

/** `extra_fields` as the service fills them, for the error examples. */
export const EXAMPLE_EXTRA_FIELDS: Partial<Record<ErrorCode, ExtraFields>> = {
  QIT000001: { errors: [{ field: 'tfa_info.contact_type', reason: 'must be one of: sms, email' }] },
  OBD000088: { account_status: 'blocked' },
  OBD000097: { reason: 'redis_unavailable' },
  OBD000099: { failed_attempts: 5 },
  GDF000014: { reason: 'payload_md5 does not match the body' },
  DTS000001: { attempts_remaining: 4 },
  DTS000002: { device_status: 'created' },
  DTS000004: { limit: 'per_device', window_seconds: 3600, retry_after_seconds: 1800 },
  DTS000013: { limit: 'failed_validations_per_approver', window_seconds: 86_400, retry_after_seconds: 52_000 },
  DTS000014: { limit: 'device_creations_per_account', window_seconds: 86_400, retry_after_seconds: 7_200 },
  DTS000010: { reason: 'redis_unavailable' },
  DTS000012: { reason: 'X-Twilio-Signature header missing' },
};

const CLIENT_AUTH = ['GDF000003', 'GDF000018', 'GDF000014'] as const;
const JSON_BODY = ['DTS000007', 'DTS000008', 'QIT000001'] as const;
const ACCOUNT = ['OBD000002', 'OBD000088', 'OBD000089'] as const;

const deviceStatusBody = { name: 'DeviceStatusResponse', schema: DeviceStatusResponseSchema };

export const ROUTE_DOCS: RouteDoc[] = [
  {
    controller: DeviceController,
    handler: 'create',
    operationId: 'createDevice',
    tag: 'Devices',
    summary: 'Register a device and send its 2FA token',
    description:
      'Stores the device as `pending_2fa_approval` and queues a token for the approver, by SMS or e-mail. ' +
      'Answers at once; the send happens in the worker (see the query endpoint for its outcome). ' +
      '`contact_type: "liveness"` is out of scope and a schema error (ours).',
    security: 'client',
    body: {
      name: 'CreateDeviceBody',
      schema: CreateDeviceBody,
      required: true,
      mediaType: 'application/json',
      examples: {
        sms: {
          summary: 'Token by SMS',
          value: { device_key: DEVICE_KEY, session_id: SESSION_ID, tfa_info: { approver_document_number: '12345678901', contact_type: 'sms' } },
        },
      },
    },
    success: { description: 'Device registered; token queued.', body: deviceStatusBody, example: statusExample('pending_2fa_approval') },
    errors: [...CLIENT_AUTH, ...JSON_BODY, ...ACCOUNT, 'OBD000090', 'DTS000003', 'DTS000014', 'DTS000004', 'OBD000097', 'DTS000011'],
  },
  {
    controller: DeviceController,
    handler: 'resend',
    operationId: 'resendToken',
    tag: 'Devices',
    summary: 'Send a new token',
    description:
      'Generates and sends a new token to the approver; the previous token stops working once the new one is handed off. ' +
      'Without `contact_type` the token goes the way the device first asked. Refused once the validation attempt limit was reached (OBD000099). ' +
      'Answers at once; the send happens in the worker. Same-channel resends within the coalescing window share one send (ours).',
    security: 'client',
    body: {
      name: 'ResendTokenBody',
      schema: ResendTokenBody,
      required: false,
      mediaType: 'application/json',
      examples: { email: { summary: 'Resend by e-mail', value: { contact_type: 'email' } }, original: { summary: 'The original channel', value: {} } },
    },
    success: { description: 'Resend requested.', body: deviceStatusBody, example: statusExample('pending_2fa_approval') },
    errors: [...CLIENT_AUTH, ...JSON_BODY, ...ACCOUNT, 'OBD000100', 'OBD000099', 'DTS000002', 'DTS000004', 'OBD000097', 'DTS000011'],
  },
  {
    controller: DeviceController,
    handler: 'validate',
    operationId: 'validateToken',
    tag: 'Devices',
    summary: 'Validate the token and register the device',
    description:
      'A right token moves the device to `created`. A wrong one answers DTS000001 with `attempts_remaining` (ours); ' +
      'the failure that reaches the limit locks the device as `rejected` and answers OBD000099. ' +
      'An expired token, or one not sent yet, answers DTS000005 and does not count as a failed attempt (ours). ' +
      'Failed validations are also budgeted per approver and per account over a rolling window (a day by default), across every device (ours): past a budget, DTS000013 with `window_seconds` and `retry_after_seconds`.',
    security: 'client',
    body: {
      name: 'ValidateTokenBody',
      schema: ValidateTokenBody,
      required: true,
      mediaType: 'application/json',
      examples: { token: { summary: 'The 6-digit token', value: { token: '482913' } } },
    },
    success: { description: 'Token accepted; device registered.', body: deviceStatusBody, example: statusExample('created') },
    errors: [...CLIENT_AUTH, ...JSON_BODY, ...ACCOUNT, 'OBD000100', 'DTS000002', 'DTS000005', 'DTS000013', 'DTS000001', 'OBD000099', 'DTS000010', 'DTS000011'],
  },
  {
    controller: DeviceController,
    handler: 'query',
    operationId: 'queryDevice',
    tag: 'Devices',
    summary: 'Device status, history and latest token send',
    description:
      'Never returns the token. `token_dispatch` (ours) shows the latest send: its state, attempts, provider message id, errors and delivery receipt.',
    security: 'client',
    success: {
      description: 'The device.',
      body: { name: 'DeviceDetailsResponse', schema: DeviceDetailsResponseSchema },
      example: {
        ...statusExample('pending_2fa_approval'),
        session_id: SESSION_ID,
        contact_type: 'sms',
        status_events: [{ new_status: 'pending_2fa_approval', event_date: CREATED_AT }],
        token_dispatch: {
          dispatch_id: DISPATCH_ID,
          state: 'sent',
          channel: 'sms',
          destination: '+55*******4321',
          attempts: 1,
          provider: 'twilio',
          provider_message_id: MESSAGE_SID,
          last_error_code: null,
          requested_at: CREATED_AT,
          sent_at: '2024-12-22T20:30:23.912Z',
          updated_at: '2024-12-22T20:30:23.912Z',
          delivery_status: 'delivered',
          delivery_error_code: null,
          delivery_updated_at: '2024-12-22T20:30:26.104Z',
          refused_jobs: 0,
        },
      },
    },
    errors: [...CLIENT_AUTH, 'QIT000001', ...ACCOUNT, 'OBD000100', 'DTS000010', 'DTS000011'],
  },
  {
    controller: DeviceController,
    handler: 'disable',
    operationId: 'disableDevice',
    tag: 'Devices',
    summary: 'Disable a device',
    description: 'Any status can be disabled; disabling a disabled device answers 200 again (ours).',
    security: 'client',
    success: { description: 'Device disabled.', body: deviceStatusBody, example: statusExample('disabled') },
    errors: [...CLIENT_AUTH, ...JSON_BODY, ...ACCOUNT, 'OBD000100', 'DTS000010', 'DTS000011'],
  },
  {
    controller: DirectoryController,
    handler: 'putClient',
    operationId: 'putClient',
    tag: 'Internal admin',
    summary: 'Register or update a client integration',
    description: 'The public key must be a P-521 (ES512), P-256 (ES256) or Ed25519 (EdDSA) PEM public key; a private key is refused.',
    security: 'admin',
    body: {
      name: 'PutClientBody',
      schema: PutClientBody,
      required: true,
      mediaType: 'application/json',
      examples: {
        p256: {
          summary: 'A P-256 client',
          value: { name: 'Example bank app', public_key: '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE…\n-----END PUBLIC KEY-----\n' },
        },
      },
    },
    success: {
      description: 'Client stored.',
      body: { name: 'PutClientResponse', schema: PutClientResponseSchema },
      example: { client_key: PATH_PARAMS.client_key.example, name: 'Example bank app' },
    },
    errors: ['DTS000009', ...JSON_BODY, 'DTS000010', 'DTS000011'],
  },
  {
    controller: DirectoryController,
    handler: 'putAccount',
    operationId: 'putAccount',
    tag: 'Internal admin',
    summary: 'Register or update an account and its approvers',
    description: 'Replaces the account: its client, status, kind and approvers.',
    security: 'admin',
    body: {
      name: 'PutAccountBody',
      schema: PutAccountBody,
      required: true,
      mediaType: 'application/json',
      examples: {
        active: {
          summary: 'An active account with one approver',
          value: {
            client_key: PATH_PARAMS.client_key.example,
            status: 'active',
            kind: 'regular',
            approvers: [{ document_number: '12345678901', name: 'Maria Silva', phone_number: '+5511987654321', email: 'maria.silva@example.com' }],
          },
        },
      },
    },
    success: {
      description: 'Account stored.',
      body: { name: 'PutAccountResponse', schema: PutAccountResponseSchema },
      example: { account_key: PATH_PARAMS.account_key.example, client_key: PATH_PARAMS.client_key.example, status: 'active', kind: 'regular', approvers: 1 },
    },
    errors: ['DTS000009', ...JSON_BODY, 'DTS000010', 'DTS000011'],
  },
  {
    controller: TwilioStatusController,
    handler: 'status',
    operationId: 'twilioStatusCallback',
    tag: 'Delivery receipts',
    summary: "Twilio's delivery receipt for a token SMS",
    description:
      'Twilio posts here (the `StatusCallback` the worker gives it when `TWILIO_STATUS_CALLBACK_URL` is set) as the message moves on. ' +
      '`X-Twilio-Signature` must be Twilio’s signature over `TWILIO_STATUS_CALLBACK_URL` and the form fields, with our auth token. ' +
      'The status is recorded on the message’s dispatch (`token_dispatch.delivery_status` in the query); a receipt never replaces one further along. ' +
      'A receipt for a message we do not know is acknowledged and ignored, so Twilio stops sending it. The only route that takes a form body.',
    security: 'twilio',
    body: {
      name: 'TwilioStatusCallback',
      schema: TwilioStatusCallbackBody,
      required: true,
      mediaType: 'application/x-www-form-urlencoded',
      examples: {
        delivered: {
          summary: 'Delivered',
          value: { AccountSid: 'AC0123456789abcdef0123456789abcdef', ApiVersion: '2010-04-01', MessageSid: MESSAGE_SID, MessageStatus: 'delivered' },
        },
        undelivered: {
          summary: 'Undelivered (30003: unreachable handset)',
          value: { AccountSid: 'AC0123456789abcdef0123456789abcdef', MessageSid: MESSAGE_SID, MessageStatus: 'undelivered', ErrorCode: '30003' },
        },
      },
    },
    success: { description: 'Receipt taken (also for a message we do not know).' },
    errors: ['DTS000007', 'DTS000008', 'DTS000012', 'QIT000001', 'DTS000010', 'DTS000011'],
  },
];
