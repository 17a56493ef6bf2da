/** Bodies of the internal admin API (client integrations and accounts). */
import { z } from 'zod';
import { Cpf, UuidV4 } from '../device/device.schemas';
import { parsePublicKey } from '../auth/request-verifier';

/** Any UUID (client keys are issued by the bank, not necessarily v4). */
export const AnyUuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID (36 characters)')
  .transform((v) => v.toLowerCase());

export const PutClientBody = z.object({
  name: z.string().trim().min(1).max(200),
  public_key: z
    .string()
    .max(10_000)
    .refine((pem) => !('error' in parsePublicKey(pem)), 'must be a PEM public key: P-521 (ES512), P-256 (ES256) or Ed25519 (EdDSA)'),
});
export type PutClientBody = z.infer<typeof PutClientBody>;

export const ApproverSchema = z.object({
  document_number: Cpf,
  name: z.string().trim().min(1).max(200),
  phone_number: z.string().regex(/^\+[1-9]\d{7,14}$/, 'must be an E.164 phone number'),
  email: z.email().max(254),
});

export const PutAccountBody = z.object({
  client_key: AnyUuid,
  status: z.enum(['active', 'blocked', 'closed']),
  kind: z.enum(['regular', 'hub']),
  approvers: z
    .array(ApproverSchema)
    .min(1, 'must list at least one approver')
    .max(50)
    .refine((list) => new Set(list.map((a) => a.document_number)).size === list.length, 'document_number must be unique'),
});
export type PutAccountBody = z.infer<typeof PutAccountBody>;

export { UuidV4 };
