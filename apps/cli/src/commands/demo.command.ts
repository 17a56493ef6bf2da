/**
 * The whole happy path against a running api, for a developer's first five
 * minutes: a key pair, a client, an account with one approver, a device
 * creation that sends a token, then the exact commands for the next steps.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
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
  userPath,
  type CliCommand,
} from '../cli-support';
import { fakeApprover } from '../fake-approver';
import { writeKeyPair } from './keygen.command';
import { curlLine, SIGNATURE_VALIDITY_NOTE } from './signed-call';

const CONTACT_TYPES = ['sms', 'email'] as const;

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'register a client and an account, create a device, print the next commands',
  help: `Usage: npm run cli -- demo [--kind p256|p521|ed25519] [--contact sms|email]

Against the api at API_URL (admin token from ADMIN_TOKEN, else from .local/dev-secrets.env,
which npm start generates, so nothing needs copying after npm start):
  1. generates a client key pair into .demo/<client_key>/ (git ignores .demo/)
  2. registers the client (PUT /internal/clients/...)
  3. registers an active regular account with one fake approver (PUT /internal/accounts/...)
  4. creates a device with a signed POST /account/{account_key}/device (202)
then prints ready-to-run commands: a signed curl for the resend, how to read
the token from the development outbox, and the validate/query/disable calls.

Options:
  --kind KIND        client key kind: p256 (default, ES256), p521 (ES512, upstream) or ed25519 (EdDSA)
  --contact TYPE     where the token goes: sms (default) or email`,
  options: {
    kind: { type: 'string' },
    contact: { type: 'string' },
  },
  async run(values, env) {
    const kind = oneOf('kind', optionalString(values, 'kind') ?? 'p256', CLIENT_KEY_KINDS);
    const contact = oneOf('contact', optionalString(values, 'contact') ?? 'sms', CONTACT_TYPES);
    requireAdminToken(env); // before any file is written
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
    const created = await signedSend(env, create);
    if (!isSuccess(created)) throw new ApiResponseError(`POST ${devicePath}`, created);
    out(`3. device created            device_key  = ${deviceKey}   → HTTP ${created.status} ${created.statusText}`);
    out(formatBody(created.body).replace(/^/gm, '   '));

    await writeFile(
      join(dir, 'demo.json'),
      `${JSON.stringify({ api_url: env.apiUrl, client_key: clientKey, account_key: accountKey, device_key: deviceKey, session_id: sessionId, alg: keys.alg, private_key_file: keys.privatePath, public_key_file: keys.publicPath, approver, contact_type: contact }, null, 2)}\n`,
    );

    const deviceUri = `${devicePath}/${deviceKey}`;
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

    out();
    out(`Next steps (ids saved in ${displayPath(join(dir, 'demo.json'))}):`);
    out();
    out(`a) The worker sends the token by ${contact}. With no Twilio/SES settings it lands in the`);
    const relativeNote = isAbsolute(env.outboxPath) ? '' : ', relative to the directory the worker runs in';
    out(`   development outbox, ${env.outboxPath} (OUTBOX_PATH${relativeNote}):`);
    out(`     ${commandLine(['grep', '-F', destination, env.outboxPath])} | tail -n 1`);
    out();
    out('b) Validate the device with that code (replace 123456):');
    out(`     ${cli('PUT', `${deviceUri}/validate`, '{"token":"123456"}')}`);
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
