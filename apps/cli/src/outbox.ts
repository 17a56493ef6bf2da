/**
 * Reading the development outbox (libs/notifications' OutboxAdapter: one
 * JSON line per message, the newest last) for `outbox` and `demo --validate`:
 * a device's latest message, and the code in it. Only in the local
 * development mode (outboxAccess): the file holds live codes, and the CLI
 * must not become a way to read them anywhere else. Nothing here prints: a
 * code reaches the terminal only through the command that asked for it.
 */
import { readFile } from 'node:fs/promises';
import type { OutboxRecord } from '@lib/notifications';
import { displayPath, type CliEnv } from './cli-support';

/** The token's shape (TOKEN_ALPHABET, TOKEN_LENGTH), to find the code in a message's text. */
export interface TokenShape {
  alphabet: string;
  length: number;
}

/** The outbox may not be read here, or the message asked for is not (yet) there: exit code 1, with the reason. */
export class OutboxError extends Error {
  constructor(
    message: string,
    readonly hints: string[] = [],
  ) {
    super(message);
    this.name = 'OutboxError';
  }
}

/**
 * Refuses unless the CLI runs in the local development mode: NODE_ENV=development,
 * or NODE_ENV unset in a checkout where `npm start` has generated its
 * development secrets (what a second terminal beside `npm start` looks like).
 */
export function outboxAccess(env: CliEnv): void {
  if (env.localMode) return;
  const why =
    env.nodeEnv === undefined
      ? `NODE_ENV is unset and ${displayPath(env.devSecretsFile)} (written by npm start) does not exist`
      : `NODE_ENV=${/^[\w.-]{1,40}$/.test(env.nodeEnv) ? env.nodeEnv : JSON.stringify(env.nodeEnv.slice(0, 40))}`;
  throw new OutboxError(`the development outbox is read only in the local development mode (${why})`, [
    'start the service with `npm start` in this checkout, or run the CLI with NODE_ENV=development;',
    'elsewhere codes go through Twilio and SES, and the CLI does not read them.',
  ]);
}

const CHANNELS: readonly string[] = ['sms', 'email'];

function isRecord(value: unknown): value is OutboxRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  const optional = (field: string) => r[field] === undefined || typeof r[field] === 'string';
  return (
    typeof r.at === 'string' &&
    typeof r.channel === 'string' &&
    CHANNELS.includes(r.channel) &&
    typeof r.to === 'string' &&
    typeof r.body === 'string' &&
    typeof r.id === 'string' &&
    ['subject', 'account_key', 'device_key', 'dispatch_id'].every(optional)
  );
}

/** The outbox's messages, oldest first; `unreadable` counts lines that are not one (a line being written, an edit). */
export function parseOutbox(text: string): { records: OutboxRecord[]; unreadable: number } {
  const records: OutboxRecord[] = [];
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      unreadable += 1;
      continue;
    }
    if (isRecord(value)) records.push(value);
    else unreadable += 1;
  }
  return { records, unreadable };
}

export interface MessageFilter {
  /** Only this device's messages (lines written before the outbox named devices never match). */
  deviceKey?: string;
  /** Only messages written at or after this time. */
  since?: Date;
}

/** The newest message that passes the filter (the file is in the order the messages were sent). */
export function latestMessage(records: readonly OutboxRecord[], filter: MessageFilter = {}): OutboxRecord | undefined {
  for (let i = records.length - 1; i >= 0; i -= 1) {
    const r = records[i];
    if (filter.deviceKey !== undefined && r.device_key?.toLowerCase() !== filter.deviceKey.toLowerCase()) continue;
    if (filter.since !== undefined && !(Date.parse(r.at) >= filter.since.getTime())) continue;
    return r;
  }
  return undefined;
}

/**
 * The code in a message's text: the one run of exactly `length` characters
 * of the alphabet, between characters that are not in it (the templates
 * are free text, so a code is found by its shape, not its place). Undefined
 * when there is none or more than one distinct such run, e.g. when the
 * worker runs with another TOKEN_ALPHABET or TOKEN_LENGTH than the CLI.
 */
export function codeIn(text: string, shape: TokenShape): string | undefined {
  const alphabet = new Set(Array.from(shape.alphabet));
  const found = new Set<string>();
  let run = '';
  for (const ch of [...Array.from(text), '']) {
    if (ch !== '' && alphabet.has(ch)) {
      run += ch;
      continue;
    }
    if (Array.from(run).length === shape.length) found.add(run);
    run = '';
  }
  return found.size === 1 ? [...found][0] : undefined;
}

/** The outbox's messages; undefined when the file does not exist (no message was ever sent to it). */
export async function readOutbox(path: string): Promise<{ records: OutboxRecord[]; unreadable: number } | undefined> {
  try {
    return parseOutbox(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OutboxError(`cannot read the outbox ${displayPath(path)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

export interface WaitOptions {
  timeoutMs: number;
  pollMs?: number;
}

/** What a look at the outbox found: the message, or what was there instead (for the message that says so). */
export type OutboxLook = { record: OutboxRecord } | { record?: undefined; exists: boolean; messages: number };

/** Looks for the newest message that passes `filter`, again every pollMs until timeoutMs has passed. */
export async function waitForMessage(path: string, filter: MessageFilter, options: WaitOptions): Promise<OutboxLook> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const outbox = await readOutbox(path);
    const record = outbox && latestMessage(outbox.records, filter);
    if (record) return { record };
    if (Date.now() >= deadline) return { exists: outbox !== undefined, messages: outbox?.records.length ?? 0 };
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.pollMs ?? 200, Math.max(0, deadline - Date.now()))));
  }
}

/** Why a look found nothing, and what to check: the same words for `outbox` and `demo --validate`. */
export function notFound(path: string, look: Exclude<OutboxLook, { record: OutboxRecord }>, deviceKey: string | undefined, waitedMs: number): OutboxError {
  const where = displayPath(path);
  const waited = waitedMs > 0 ? ` after ${(waitedMs / 1000).toFixed(waitedMs % 1000 === 0 ? 0 : 1)} s` : '';
  const what = deviceKey === undefined ? 'no message' : `no message for device ${deviceKey}`;
  const there = look.exists ? `${look.messages} message${look.messages === 1 ? '' : 's'} there` : 'the file does not exist';
  return new OutboxError(`${what} in the outbox ${where}${waited} (${there})`, [
    'the worker writes there in development mode when it has no Twilio/SES settings (npm start: none unless you set them);',
    'is it running, and with the same OUTBOX_PATH (relative to the checkout)? Its log says "development outbox in use".',
  ]);
}
