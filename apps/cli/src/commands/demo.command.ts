/**
 * The whole happy path against a running api, for a developer's first five
 * minutes: a key pair, a client, an account with one approver, a device
 * creation that sends a token, then the exact commands for the next steps.
 * With --validate (local development mode only) it also waits for the code
 * in the development outbox, validates the device with it and shows the
 * device's final state.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLIENT_KEY_KINDS } from '@lib/request-signing';
import { adminPut, ApiResponseError, formatBody, isSuccess, signedHeaders, signedSend, type SignedCall } from '../api-client';
import {
  commandLine,
  DEFAULT_API_URL,
  displayPath,
  oneOf,
  optionalString,
  out,
  requireAdminToken,
  shellQuote,
  UsageError,
  userPath,
  type CliCommand,
  type CliEnv,
} from '../cli-support';
import { fakeApprover } from '../fake-approver';
import { codeIn, notFound, OutboxError, outboxAccess, waitForMessage } from '../outbox';
import { writeKeyPair } from './keygen.command';
import { waitOption } from './outbox.command';
import { curlLine, SIGNATURE_VALIDITY_NOTE } from './signed-call';

const CONTACT_TYPES = ['sms', 'email'] as const;
/** How long --validate waits for the message by default: the worker sends within a second on a quiet machine. */
const DEFAULT_WAIT_SECONDS = 15;

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'register a client and an account, create a device, print the next commands (--validate: validate it too)',
  help: `Usage: npm run cli -- demo [--kind p256|p521|ed25519] [--contact sms|email] [--validate [--wait SECONDS]]

Against the api at API_URL (admin token from ADMIN_TOKEN, else from .local/dev-secrets.env,
which npm start generates, so nothing needs copying after npm start):
  1. generates a client key pair into .demo/<client_key>/ (git ignores .demo/)
  2. registers the client (PUT /internal/clients/...)
  3. registers an active regular account with one fake approver (PUT /internal/accounts/...)
  4. creates a device with a signed POST /account/{account_key}/device (202)
then prints ready-to-run commands: a signed curl for the resend, how to read
the token from the development outbox, and the validate/query/disable calls.

With --validate it finishes the flow itself (local development mode only, as
\`outbox\`: the worker writes the code to the development outbox):
  5. waits for the device's message in OUTBOX_PATH and reads the code in it
  6. validates the device with it (signed PUT .../validate)
  7. shows the device's final status (signed GET)

Options:
  --kind KIND        client key kind: p256 (default, ES256), p521 (ES512, upstream) or ed25519 (EdDSA)
  --contact TYPE     where the token goes: sms (default) or email
  --validate         read the code from the development outbox and validate the device with it
  --wait SECONDS     with --validate: how long to wait for the message (default 15)`,
  options: {
    kind: { type: 'string' },
    contact: { type: 'string' },
    validate: { type: 'boolean' },
    wait: { type: 'string' },
  },
  async run(values, env) {
    const kind = oneOf('kind', optionalString(values, 'kind') ?? 'p256', CLIENT_KEY_KINDS);
    const contact = oneOf('contact', optionalString(values, 'contact') ?? 'sms', CONTACT_TYPES);
    const validate = values.validate === true;
    if (!validate && values.wait !== undefined) throw new UsageError('--wait goes with --validate');
    const waitMs = waitOption(values, DEFAULT_WAIT_SECONDS);
    requireAdminToken(env); // before any file is written
    if (validate) outboxAccess(env); // before anything is registered
    const clientKey = randomUUID();
    const accountKey = randomUUID();
    const deviceKey = randomUUID();
    const sessionId = randomUUID();
    const approver = fakeApprover();

    const dir = userPath(join('.demo', clientKey));
    const keys = await writeKeyPair(kind, dir, 'client', false);
    const privateKeyArg = displayPath(keys.privatePath);
    out(`API: ${env.apiUrl}`);
    out(`Key pair (${kind}, ${keys.alg}) written to ${displayPath(dir)}/`);

    await adminPut(env, `/internal/clients/${clientKey}`, { name: 'Demo client', public_key: keys.publicKeyPem });
    out(`1. client registered         client_key  = ${clientKey}`);

    await adminPut(env, `/internal/accounts/${accountKey}`, {
      client_key: clientKey,
      status: 'active',
      kind: 'regular',
      approvers: [approver],
    });
    out(`2. account registered        account_key = ${accountKey}`);
    out(`   approver: ${approver.name}, CPF ${approver.document_number}, ${approver.phone_number}, ${approver.email}`);

    const devicePath = `/account/${accountKey}/device`;
    const create: SignedCall = {
      clientKey,
      privateKeyPem: keys.privateKeyPem,
      method: 'POST',
      path: devicePath,
      body: JSON.stringify({
        device_key: deviceKey,
        session_id: sessionId,
        tfa_info: { approver_document_number: approver.document_number, contact_type: contact },
      }),
    };
    const requestedAt = new Date();
    const created = await signedSend(env, create);
    if (!isSuccess(created)) throw new ApiResponseError(`POST ${devicePath}`, created);
    out(`3. device created            device_key  = ${deviceKey}   → HTTP ${created.status} ${created.statusText}`);
    out(formatBody(created.body).replace(/^/gm, '   '));

    await writeFile(
      join(dir, 'demo.json'),
      `${JSON.stringify({ api_url: env.apiUrl, client_key: clientKey, account_key: accountKey, device_key: deviceKey, session_id: sessionId, alg: keys.alg, private_key_file: keys.privatePath, public_key_file: keys.publicPath, approver, contact_type: contact }, null, 2)}\n`,
    );

    const deviceUri = `${devicePath}/${deviceKey}`;
    const sign = (method: string, path: string, body?: string): SignedCall => ({ clientKey, privateKeyPem: keys.privateKeyPem, method, path, body });
    // The printed commands must reach the same api when API_URL is not the default.
    const envPrefix = env.apiUrl === DEFAULT_API_URL ? '' : `API_URL=${shellQuote(env.apiUrl)} `;
    const cli = (method: string, uri: string, body?: string) =>
      envPrefix +
      commandLine([
        'npm',
        'run',
        'cli',
        '--',
        'request',
        '--client-key',
        clientKey,
        '--private-key',
        privateKeyArg,
        '--method',
        method,
        '--uri',
        uri,
        ...(body === undefined ? [] : ['--body', body]),
      ]);
    const resend: SignedCall = { clientKey, privateKeyPem: keys.privateKeyPem, method: 'PATCH', path: `${deviceUri}/resend_token` };
    const resendCurl = curlLine(env, resend, await signedHeaders(resend));
    const destination = contact === 'sms' ? approver.phone_number : approver.email;

    // The outbox is a file: API_URL plays no part there.
    const outboxCommand = commandLine(['npm', 'run', 'cli', '--', 'outbox', '--device', deviceKey]);

    if (validate) {
      await validateFromOutbox(env, { deviceKey, requestedAt, waitMs, validate: sign('PUT', `${deviceUri}/validate`), query: sign('GET', deviceUri) });
      out();
      out(`Next steps (ids saved in ${displayPath(join(dir, 'demo.json'))}):`);
      out();
      out('a) Look at the device (status, events, state of the latest send):');
      out(`     ${cli('GET', deviceUri)}`);
      out();
      out('b) Disable it:');
      out(`     ${cli('DELETE', `${deviceUri}/disable`)}`);
      out();
      out('The latest code sent to any device, from the outbox: npm run cli -- outbox --device KEY');
      return 0;
    }

    out();
    out(`Next steps (ids saved in ${displayPath(join(dir, 'demo.json'))}):`);
    out();
    out(`a) The worker sends the token by ${contact}. With no Twilio/SES settings it lands in the`);
    out(`   development outbox, ${displayPath(env.outboxPath)} (OUTBOX_PATH); its code, for this device:`);
    out(`     ${outboxCommand}`);
    out(`   (or: ${commandLine(['grep', '-F', destination, displayPath(env.outboxPath)])} | tail -n 1)`);
    out();
    out('b) Validate the device with that code (replace 123456):');
    out(`     ${cli('PUT', `${deviceUri}/validate`, '{"token":"123456"}')}`);
    out();
    out(`   Or do a) and b) in one go next time: ${envPrefix}npm run cli -- demo --validate`);
    out();
    out('   Or ask for a new token first (ready to run now, signed with curl headers):');
    out(`     ${resendCurl}`);
    out(`   ${SIGNATURE_VALIDITY_NOTE}`);
    out('   Requests inside RESEND_COALESCE_SECONDS (30 s by default) of the last send share that send.');
    out('   To re-sign it later:');
    out(`     ${cli('PATCH', `${deviceUri}/resend_token`)}`);
    out();
    out('c) Look at the device (status, events, state of the latest send):');
    out(`     ${cli('GET', deviceUri)}`);
    out();
    out('d) Disable it:');
    out(`     ${cli('DELETE', `${deviceUri}/disable`)}`);
    return 0;
  },
};

interface ValidateSteps {
  deviceKey: string;
  /** Just before the device was created: its message is written after. */
  requestedAt: Date;
  waitMs: number;
  /** Signed calls without their body (the validate call's comes with the code). */
  validate: SignedCall;
  query: SignedCall;
}

/** Steps 4 to 6 of `demo --validate`: the code from the outbox, the validate call, the device's final state. */
async function validateFromOutbox(env: CliEnv, steps: ValidateSteps): Promise<void> {
  const look = await waitForMessage(
    env.outboxPath,
    { deviceKey: steps.deviceKey, since: new Date(steps.requestedAt.getTime() - 1_000) },
    { timeoutMs: steps.waitMs },
  );
  if (!look.record) {
    // Where the send went instead, if the api knows (a worker with Twilio/SES settings, a failed send).
    const query = await signedSend(env, steps.query).catch(() => undefined);
    const dispatch = query && isSuccess(query) ? (query.body as { token_dispatch?: { state?: string; provider?: string } }).token_dispatch : undefined;
    const error = notFound(env.outboxPath, look, steps.deviceKey, steps.waitMs);
    if (dispatch?.state) error.hints.unshift(`the api says this send is ${dispatch.state}${dispatch.provider ? ` (provider ${dispatch.provider})` : ''};`);
    throw error;
  }
  const record = look.record;
  const code = codeIn(record.body, env.tokenShape);
  if (code === undefined) {
    throw new OutboxError(
      `no single code of ${env.tokenShape.length} characters from TOKEN_ALPHABET in message ${record.id} of ${displayPath(env.outboxPath)}`,
      ['set TOKEN_ALPHABET and TOKEN_LENGTH here as the worker has them.'],
    );
  }
  const after = ((Date.parse(record.at) - steps.requestedAt.getTime()) / 1000).toFixed(1);
  out(`4. code read from outbox     ${code}   (${record.channel} to ${record.to}, ${after} s after the request, ${displayPath(env.outboxPath)})`);

  const validate = { ...steps.validate, body: JSON.stringify({ token: code }) };
  const validated = await signedSend(env, validate);
  if (!isSuccess(validated)) throw new ApiResponseError(`PUT ${validate.path}`, validated);
  out(`5. device validated          → HTTP ${validated.status} ${validated.statusText}`);
  out(formatBody(validated.body).replace(/^/gm, '   '));

  const query = await signedSend(env, steps.query);
  if (!isSuccess(query)) throw new ApiResponseError(`GET ${steps.query.path}`, query);
  const device = query.body as { device_status?: string; status_events?: unknown[]; token_dispatch?: { state?: string; provider?: string; attempts?: number } };
  const send = device.token_dispatch;
  const sendText = send ? `; latest send ${send.state} via ${send.provider ?? '?'} (${send.attempts ?? '?'} attempt${send.attempts === 1 ? '' : 's'})` : '';
  out(`6. final status              device_status = ${device.device_status}${sendText}   → GET HTTP ${query.status}`);
}
