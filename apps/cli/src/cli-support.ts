/**
 * Small helpers shared by the CLI commands: option parsing with per-command
 * help, file paths relative to where the user typed the command, and shell
 * quoting for the ready-to-run command lines the CLI prints.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { parseArgs, parseEnv, type ParseArgsConfig } from 'node:util';
import { DEFAULT_TOKEN_ALPHABET, DEFAULT_TOKEN_LENGTH, DEV_SECRETS_FILE } from '@lib/config';

export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

export interface CliEnv {
  apiUrl: string;
  /** Undefined when neither ADMIN_TOKEN nor npm start's secrets file gives one (commands without the admin API run anyway). */
  adminToken?: string;
  /** Where the admin token came from, for the messages when it is missing or refused. */
  adminTokenSource: 'ADMIN_TOKEN' | 'dev-secrets-file' | 'none';
  /** npm start's development secrets file of this checkout. */
  devSecretsFile: string;
  /** The development outbox (OUTBOX_PATH, relative to the checkout, where npm start runs the worker), absolute. */
  outboxPath: string;
  /** NODE_ENV as given, undefined when unset or empty. */
  nodeEnv?: string;
  /**
   * The local development mode, in which the CLI reads the outbox:
   * NODE_ENV=development, or NODE_ENV unset in a checkout where npm start
   * generated its development secrets.
   */
  localMode: boolean;
  /** TOKEN_ALPHABET and TOKEN_LENGTH (the apps' defaults unless set), to find a code in a message. */
  tokenShape: { alphabet: string; length: number };
}

/**
 * The CLI's settings. Without ADMIN_TOKEN, the admin token is the one
 * `npm start` generated for this checkout (`.local/dev-secrets.env` under
 * `checkoutRoot`), so the demo works in a second terminal with nothing copied.
 */
export function cliEnv(env: NodeJS.ProcessEnv, checkoutRoot: string): CliEnv {
  const devSecretsFile = resolve(checkoutRoot, DEV_SECRETS_FILE);
  const fromEnv = env.ADMIN_TOKEN?.trim();
  const fromFile = fromEnv ? undefined : readDevAdminToken(devSecretsFile);
  const nodeEnv = env.NODE_ENV?.trim() || undefined;
  const length = Number(env.TOKEN_LENGTH?.trim() || DEFAULT_TOKEN_LENGTH);
  return {
    apiUrl: (env.API_URL?.trim() || DEFAULT_API_URL).replace(/\/+$/, ''),
    adminToken: fromEnv || fromFile,
    adminTokenSource: fromEnv ? 'ADMIN_TOKEN' : fromFile ? 'dev-secrets-file' : 'none',
    devSecretsFile,
    outboxPath: resolve(checkoutRoot, env.OUTBOX_PATH?.trim() || '.outbox/messages.log'),
    nodeEnv,
    localMode: nodeEnv === 'development' || (nodeEnv === undefined && existsSync(devSecretsFile)),
    tokenShape: { alphabet: env.TOKEN_ALPHABET || DEFAULT_TOKEN_ALPHABET, length: Number.isInteger(length) ? length : DEFAULT_TOKEN_LENGTH },
  };
}

function readDevAdminToken(path: string): string | undefined {
  try {
    return parseEnv(readFileSync(path, 'utf8')).ADMIN_TOKEN?.trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The admin API's bearer token, or a UsageError saying how to provide one. */
export function requireAdminToken(env: CliEnv): string {
  if (env.adminToken) return env.adminToken;
  throw new UsageError(
    `no admin token: ADMIN_TOKEN is not set and ${displayPath(env.devSecretsFile)} does not exist. ` +
      'Set ADMIN_TOKEN to the token the api runs with, or start the api with `npm start`, which generates one there.',
  );
}

/** Wrong or missing arguments: the message is printed with a pointer to `--help`. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type OptionValues = Record<string, string | boolean | Array<string | boolean> | undefined>;
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface CliCommand {
  name: string;
  summary: string;
  /** Full `--help` text (usage line, options, an example). */
  help: string;
  options: OptionSpec;
  run(values: OptionValues, env: CliEnv): Promise<number>;
}

export function parseCommandArgs(command: CliCommand, args: string[]): OptionValues | 'help' {
  const options: OptionSpec = { ...command.options, help: { type: 'boolean', short: 'h' } };
  let values: OptionValues;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  return values;
}

export function requiredString(values: OptionValues, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value.trim();
}

export function optionalString(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

export function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
  }
  return value as T;
}

/** The directory the user ran `npm run cli` from (npm itself runs us from the package root). */
export function userCwd(): string {
  return process.env.INIT_CWD || process.cwd();
}

export function userPath(path: string): string {
  return isAbsolute(path) ? path : resolve(userCwd(), path);
}

/** A path as the user should type it from their own directory. */
export function displayPath(absolutePath: string): string {
  const rel = relative(userCwd(), absolutePath);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? absolutePath : rel;
}

export async function readUserFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(userPath(path), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${what} ${JSON.stringify(path)}${code ? ` (${code})` : ''}`);
  }
}

/**
 * The request body exactly as given: `--body` text or `--body-file` contents,
 * never re-serialised, because the signature covers these bytes. A body that
 * is not JSON is still sent (useful to test the API's error answer), with a warning.
 */
export async function bodyOption(values: OptionValues): Promise<string | undefined> {
  const inline = typeof values.body === 'string' ? values.body : undefined;
  const file = optionalString(values, 'body-file');
  if (inline !== undefined && file !== undefined) throw new UsageError('give either --body or --body-file, not both');
  const body = file !== undefined ? await readUserFile(file, 'body file') : inline;
  if (body !== undefined && body !== '') {
    try {
      JSON.parse(body);
    } catch {
      process.stderr.write('warning: the body is not valid JSON; sending it as given\n');
    }
  }
  return body === '' ? undefined : body;
}

export const BODY_OPTIONS: OptionSpec = {
  body: { type: 'string' },
  'body-file': { type: 'string' },
};

/** POSIX single-quote quoting, safe to paste into bash/zsh. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(args: string[]): string {
  return args.map(shellQuote).join(' ');
}

export const out = (line = ''): void => void process.stdout.write(`${line}\n`);
export const err = (line = ''): void => void process.stderr.write(`${line}\n`);
