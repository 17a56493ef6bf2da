import { adminPut, formatBody } from '../api-client';
import { parseApprover } from '../approver-input';
import { oneOf, optionalString, out, requiredString, UsageError, type CliCommand } from '../cli-support';

const ACCOUNT_STATUSES = ['active', 'blocked', 'closed'] as const;
const ACCOUNT_KINDS = ['regular', 'hub'] as const;

export const accountPutCommand: CliCommand = {
  name: 'account:put',
  summary: 'create or replace an account with its approvers (admin API)',
  help: `Usage: npm run cli -- account:put --key UUID --client UUID [--status active|blocked|closed]
                               [--kind regular|hub] --approver "DOC,NAME,PHONE,EMAIL" [--approver ...]

Sends PUT /internal/accounts/{key} with the admin bearer token (ADMIN_TOKEN, else
the one npm start keeps in .local/dev-secrets.env).

Options:
  --key UUID         the account key (used in /account/{account_key}/...)
  --client UUID      the client integration that owns the account
  --status STATUS    active (default), blocked or closed
  --kind KIND        regular (default) or hub
  --approver TEXT    an approver: CPF (11 digits), name, E.164 phone, e-mail,
                     separated by commas; repeat for several approvers

Example:
  npm run cli -- account:put --key 6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b --client 0b9c1f7e-2f4a-4d8e-9a51-3c1e7a9b2d40 \\
    --approver "52998224725,Maria Silva,+5511987654321,maria@example.com"`,
  options: {
    key: { type: 'string' },
    client: { type: 'string' },
    status: { type: 'string' },
    kind: { type: 'string' },
    approver: { type: 'string', multiple: true },
  },
  async run(values, env) {
    const key = requiredString(values, 'key');
    const clientKey = requiredString(values, 'client');
    const status = oneOf('status', optionalString(values, 'status') ?? 'active', ACCOUNT_STATUSES);
    const kind = oneOf('kind', optionalString(values, 'kind') ?? 'regular', ACCOUNT_KINDS);
    const approverTexts = Array.isArray(values.approver) ? values.approver.filter((v): v is string => typeof v === 'string') : [];
    if (approverTexts.length === 0) throw new UsageError('at least one --approver is required');
    const approvers = approverTexts.map(parseApprover);
    const res = await adminPut(env, `/internal/accounts/${encodeURIComponent(key)}`, {
      client_key: clientKey,
      status,
      kind,
      approvers,
    });
    out(`Account ${key} saved (${status}, ${kind}, ${approvers.length} approver(s)): HTTP ${res.status} ${res.statusText}`);
    if (res.body !== undefined) out(formatBody(res.body));
    return 0;
  },
};
