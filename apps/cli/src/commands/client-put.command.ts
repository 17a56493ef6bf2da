import { algorithmForKey } from '@lib/request-signing';
import { adminPut, formatBody } from '../api-client';
import { out, readUserFile, requiredString, UsageError, type CliCommand } from '../cli-support';

export const clientPutCommand: CliCommand = {
  name: 'client:put',
  summary: 'register (or replace) a client integration and its public key (admin API)',
  help: `Usage: npm run cli -- client:put --key UUID --name NAME --public-key FILE

Sends PUT /internal/clients/{key} with { name, public_key } and the admin
bearer token (ADMIN_TOKEN, else the one npm start keeps in
.local/dev-secrets.env). The key must be P-521, P-256 or Ed25519.

Options:
  --key UUID          the client integration key (the API-CLIENT-KEY header value)
  --name NAME         a display name
  --public-key FILE   the SPKI PEM file (from keygen)

Example:
  npm run cli -- client:put --key 0b9c1f7e-2f4a-4d8e-9a51-3c1e7a9b2d40 --name "Acme" --public-key .demo/keys/client-p521.public.pem`,
  options: {
    key: { type: 'string' },
    name: { type: 'string' },
    'public-key': { type: 'string' },
  },
  async run(values, env) {
    const key = requiredString(values, 'key');
    const name = requiredString(values, 'name');
    const publicKeyPem = await readUserFile(requiredString(values, 'public-key'), 'public key file');
    // Never ship a private key: algorithmForKey would accept one (it derives the public half).
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(publicKeyPem)) {
      throw new UsageError('--public-key points to a private key; give the .public.pem file');
    }
    const alg = algorithmForKey(publicKeyPem); // refuse RSA & co. before asking the api
    const res = await adminPut(env, `/internal/clients/${encodeURIComponent(key)}`, { name, public_key: publicKeyPem });
    out(`Client ${key} registered (requests must be signed with ${alg}): HTTP ${res.status} ${res.statusText}`);
    if (res.body !== undefined) out(formatBody(res.body));
    return 0;
  },
};
