/** Request shapes of the device endpoints, as the contract defines them. */
import { z } from 'zod';
import { CONTACT_TYPES } from '@lib/domain';

/** A UUID v4 in its 36-character canonical form. */
export const UuidV4 = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i, 'must be a UUID v4 (36 characters)')
  .transform((v) => v.toLowerCase());

export const Cpf = z.string().regex(/^\d{11}$/, 'must be 11 digits');

const ContactType = z.enum(CONTACT_TYPES, { error: 'must be one of: sms, email' });

const body = <T extends z.ZodRawShape>(shape: T) =>
  z.object(shape, { error: (issue) => (issue.input === undefined ? 'is required' : 'must be a JSON object') });

export const CreateDeviceBody = body({
  device_key: UuidV4,
  session_id: UuidV4,
  tfa_info: z.object(
    {
      approver_document_number: Cpf,
      contact_type: ContactType,
    },
    { error: 'must be an object' },
  ),
});
export type CreateDeviceBody = z.infer<typeof CreateDeviceBody>;

/**
 * The resend body is optional: no body means "the way the device first asked".
 * No body is read as `{}` rather than through a union with undefined, whose
 * failures would hide which field was wrong behind a bare "Invalid input".
 */
export const ResendTokenBody = z.preprocess(
  (b) => (b === undefined ? {} : b),
  z.object({ contact_type: ContactType.optional() }, { error: 'must be a JSON object' }),
);
export type ResendTokenBody = z.infer<typeof ResendTokenBody>;

/** The token's exact length is configuration (6 by default); the use case checks it. */
export const ValidateTokenBody = body({
  token: z.string({ error: 'must be a string' }).min(1, 'must not be empty').max(64, 'is too long'),
});
export type ValidateTokenBody = z.infer<typeof ValidateTokenBody>;
