/**
 * `outbox`: the latest message in the development outbox, for one device or
 * any, and the code in it, so a developer never has to grep the file. Local
 * development mode only (outboxAccess).
 */
import { displayPath, optionalString, out, UsageError, type CliCommand, type OptionValues } from '../cli-support';
import { codeIn, notFound, OutboxError, outboxAccess, waitForMessage } from '../outbox';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Longest --wait accepted: a code lives TOKEN_TTL_SECONDS (300 s by default). */
const MAX_WAIT_SECONDS = 600;

/** `--wait SECONDS` in milliseconds (`fallback` seconds when absent). */
export function waitOption(values: OptionValues, fallback: number): number {
  const text = optionalString(values, 'wait');
  if (text === undefined) return fallback * 1000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_WAIT_SECONDS) {
    throw new UsageError(`--wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS} (got ${JSON.stringify(text)})`);
  }
  return Math.round(seconds * 1000);
}

export const outboxCommand: CliCommand = {
  name: 'outbox',
  summary: "show a device's latest code from the development outbox",
  help: `Usage: npm run cli -- outbox [--device KEY] [--wait SECONDS] [--code-only]

Shows the latest message in the development outbox and the code in it: the file
OUTBOX_PATH (default .outbox/messages.log in this checkout) where the worker writes
SMS and e-mails in development mode when it has no Twilio/SES settings (npm start).

Local development mode only: NODE_ENV=development, or NODE_ENV unset in a checkout
where npm start has generated .local/dev-secrets.env. Anywhere else it refuses.

Options:
  --device KEY      the device's key (device_key): its latest message; without it, the latest of all
  --wait SECONDS    wait up to that long for a message to arrive (default 0: look once)
  --code-only       print the code alone, e.g. CODE=$(npm run -s cli -- outbox --device KEY --code-only)

The code is found in the message by its shape: TOKEN_LENGTH characters of
TOKEN_ALPHABET (6 digits unless set; set them as the worker has them).`,
  options: {
    device: { type: 'string' },
    wait: { type: 'string' },
    'code-only': { type: 'boolean' },
  },
  async run(values, env) {
    const deviceKey = optionalString(values, 'device');
    if (deviceKey !== undefined && !UUID.test(deviceKey)) throw new UsageError(`--device must be a device key, a UUID (got ${JSON.stringify(deviceKey)})`);
    const waitMs = waitOption(values, 0);
    outboxAccess(env);
    const look = await waitForMessage(env.outboxPath, { deviceKey }, { timeoutMs: waitMs });
    if (!look.record) throw notFound(env.outboxPath, look, deviceKey, waitMs);
    const record = look.record;
    const code = codeIn(record.body, env.tokenShape);
    if (code === undefined) {
      throw new OutboxError(
        `no single code of ${env.tokenShape.length} characters from TOKEN_ALPHABET in message ${record.id} of ${displayPath(env.outboxPath)}`,
        ['set TOKEN_ALPHABET and TOKEN_LENGTH here as the worker has them, or read that line of the file yourself.'],
      );
    }
    if (values['code-only'] === true) {
      out(code);
      return 0;
    }
    const subject = record.subject === undefined ? '' : `, subject "${record.subject}"`;
    out(`Outbox:   ${displayPath(env.outboxPath)}`);
    out(`Message:  ${record.channel} to ${record.to} at ${record.at}${subject} (${record.id})`);
    if (record.device_key !== undefined) out(`Send:     account ${record.account_key} device ${record.device_key} dispatch ${record.dispatch_id}`);
    out(`Code:     ${code}`);
    return 0;
  },
};
