/**
 * Configuration: read from the environment once at start-up, validated, and
 * frozen into a typed object. A bad or missing setting stops the process with
 * a message that names it.
 *
 * Fail closed: only NODE_ENV=development (the local mode `npm start` asks
 * for) and NODE_ENV=test (the test suite) leave production rules; unset or
 * any other value runs under them. No secret has a default in any mode, and
 * each app requires the secrets it uses (see secret-rules.ts for what
 * production refuses).
 */
import { z } from 'zod';
import type { DataLifetimes, GuessLimitPolicy, SendLimitPolicy, TokenPolicy } from '@lib/domain';
import { maxRetryWindowMs, type DispatchRetryPolicy } from '@lib/dispatch-contract';
import { isGeneratedSecret, secretProblems, type SecretName } from './secret-rules';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const optionalUrl = optionalString.pipe(z.url().optional());

/** The token's shape unless TOKEN_ALPHABET / TOKEN_LENGTH say otherwise (the CLI finds codes in the outbox by it). */
export const DEFAULT_TOKEN_ALPHABET = '0123456789';
export const DEFAULT_TOKEN_LENGTH = 6;

/** Settings both apps read. */
const SharedEnv = z.object({
  NODE_ENV: optionalString,
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.{}-]+$/)
    .default('dts'),
  REDIS_COMMAND_TIMEOUT_MS: int(500, 50),
  REDIS_MODE: z.enum(['standalone', 'sentinel', 'cluster']).default('standalone'),
  REDIS_SENTINELS: optionalString,
  REDIS_SENTINEL_NAME: z.string().default('mymaster'),
  REDIS_CLUSTER_NODES: optionalString,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // JSON in every mode unless asked; `npm start` asks for pretty (pino-pretty is a devDependency, absent from the image).
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  METRICS_TOKEN: optionalString,
  TOKEN_HASH_SECRET: optionalString,
  TOKEN_ALPHABET: z.string().min(2).max(256).default(DEFAULT_TOKEN_ALPHABET),
  TOKEN_LENGTH: int(DEFAULT_TOKEN_LENGTH, 4),
  TOKEN_TTL_SECONDS: int(300, 30),
  TOKEN_MAX_FAILED_ATTEMPTS: int(5, 1),
  SMS_ALLOWED_COUNTRY_CODES: z
    .string()
    .default('55')
    .transform((v) =>
      v
        .split(',')
        .map((c) => c.trim().replace(/^\+/, ''))
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[1-9]\d{0,2}$/, 'country calling codes are 1 to 3 digits')).min(1, 'list at least one country calling code')),
  // The api gives each send job its attempts and backoff; the worker runs them.
  DISPATCH_ATTEMPTS: int(6, 1),
  DISPATCH_BACKOFF_MS: int(1000, 1),
  // Both apps add send jobs (the api, and the worker's repair): both give them these.
  COMPLETED_JOB_TTL_SECONDS: int(24 * 3600, 1),
  FAILED_JOB_TTL_SECONDS: int(7 * 24 * 3600, 1),
  // The worker asks Twilio for receipts there; the api checks their signatures against it.
  TWILIO_STATUS_CALLBACK_URL: optionalUrl,
});

/** Settings of the api alone. */
const ApiEnv = SharedEnv.extend({
  HOST: z.string().default('0.0.0.0'),
  PORT: int(3000, 0),
  BODY_LIMIT_BYTES: int(16 * 1024, 256),
  REQUEST_TIMEOUT_MS: int(10_000, 100),
  DOCS_ENABLED: z.enum(['true', 'false']).default('true'),
  ADMIN_TOKEN: optionalString,
  BOARD_USERNAME: optionalString,
  BOARD_PASSWORD: optionalString,
  BOARD_READONLY_USERNAME: optionalString,
  BOARD_READONLY_PASSWORD: optionalString,
  RESEND_COALESCE_SECONDS: int(30, 0),
  SEND_LIMIT_PER_DEVICE: int(5, 1),
  SEND_LIMIT_PER_DESTINATION: int(10, 1),
  SEND_LIMIT_WINDOW_SECONDS: int(3600, 1),
  GUESS_LIMIT_PER_APPROVER: int(20, 1),
  GUESS_LIMIT_PER_ACCOUNT: int(100, 1),
  GUESS_LIMIT_WINDOW_SECONDS: int(24 * 3600, 1),
  DEVICE_LIMIT_PER_ACCOUNT: int(20, 1),
  DEVICE_LIMIT_WINDOW_SECONDS: int(24 * 3600, 1),
  PENDING_DEVICE_TTL_SECONDS: int(7 * 24 * 3600, 1),
  DISPATCH_TTL_SECONDS: int(30 * 24 * 3600, 1),
  AUTH_MAX_CLOCK_SKEW_SECONDS: int(300, 5),
  AUTH_CLOCK_SKEW_MARGIN_SECONDS: int(60, 0),
  // Delivery receipts' signatures are checked with the Twilio account's auth token.
  TWILIO_AUTH_TOKEN: optionalString,
  REDIS_MIN_REPLICAS_ACK: int(0, 0),
  REDIS_REPLICAS_ACK_TIMEOUT_MS: int(200, 1),
});

/** Settings of the worker alone. */
const WorkerEnv = SharedEnv.extend({
  WORKER_HTTP_HOST: z.string().default('0.0.0.0'),
  WORKER_HTTP_PORT: int(3001, 0),
  WORKER_CONCURRENCY: int(10, 1),
  WORKER_SHUTDOWN_GRACE_MS: int(30_000, 0),
  WORKER_LOCK_DURATION_MS: int(5_000, 1_000),
  WORKER_STALLED_INTERVAL_MS: int(2_000, 500),
  DISPATCH_REPAIR_INTERVAL_MS: int(5_000, 500),
  PROVIDER_TIMEOUT_MS: int(10_000, 100),
  PROVIDER_MESSAGE_TTL_SECONDS: int(7 * 24 * 3600, 1),
  // Each provider's send rate across every worker (0: no limit of ours; a 429 still pauses that provider's sends).
  TWILIO_SENDS_PER_SECOND: z.coerce.number().min(0).max(10_000).default(0),
  SES_SENDS_PER_SECOND: z.coerce.number().min(0).max(10_000).default(0),
  TWILIO_ACCOUNT_SID: optionalString,
  TWILIO_AUTH_TOKEN: optionalString,
  TWILIO_FROM_NUMBER: optionalString,
  TWILIO_API_URL: optionalUrl,
  TWILIO_CA_BUNDLE: optionalString,
  HTTP_PROXY: optionalString,
  SES_FROM_ADDRESS: optionalString,
  SES_ENDPOINT: optionalUrl,
  AWS_REGION: z.string().default('us-east-1'),
  OUTBOX_PATH: z.string().default('.outbox/messages.log'),
  SMS_TEMPLATE: z.string().default('Seu código de aprovação de dispositivo é {code}. Ele expira em {minutes} minutos. Não compartilhe este código.'),
  EMAIL_SUBJECT: z.string().default('Código de aprovação de dispositivo'),
  EMAIL_TEMPLATE: z
    .string()
    .default(
      'Olá, {name}.\n\nSeu código de aprovação de dispositivo é {code}. Ele expira em {minutes} minutos.\n\nSe você não solicitou este código, ignore esta mensagem.',
    ),
});

/**
 * Limit settings whose names carried their window before the window became a
 * setting of its own: one still set is refused, not ignored, since the
 * operator who set it believes that limit is in force.
 */
const RENAMED_API_SETTINGS: Readonly<Record<string, string>> = {
  SEND_LIMIT_PER_DEVICE_PER_HOUR: 'SEND_LIMIT_PER_DEVICE (within SEND_LIMIT_WINDOW_SECONDS)',
  SEND_LIMIT_PER_DESTINATION_PER_HOUR: 'SEND_LIMIT_PER_DESTINATION (within SEND_LIMIT_WINDOW_SECONDS)',
  GUESS_LIMIT_PER_APPROVER_PER_DAY: 'GUESS_LIMIT_PER_APPROVER (within GUESS_LIMIT_WINDOW_SECONDS)',
  GUESS_LIMIT_PER_ACCOUNT_PER_DAY: 'GUESS_LIMIT_PER_ACCOUNT (within GUESS_LIMIT_WINDOW_SECONDS)',
  DEVICE_LIMIT_PER_ACCOUNT_PER_DAY: 'DEVICE_LIMIT_PER_ACCOUNT (within DEVICE_LIMIT_WINDOW_SECONDS)',
};

/** The environment variables each app reads (documentation and .env.example are checked against these). */
export const SETTINGS: Readonly<Record<'shared' | 'api' | 'worker', readonly string[]>> = {
  shared: Object.keys(SharedEnv.shape),
  api: Object.keys(ApiEnv.shape),
  worker: Object.keys(WorkerEnv.shape),
};

/**
 * Each setting's default as text (lists joined with commas), undefined for one
 * without a default: what the operations docs' configuration table is checked
 * against.
 */
export function settingDefaults(): Readonly<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const shape of [ApiEnv.shape, WorkerEnv.shape] as Record<string, z.ZodType>[]) {
    for (const [name, schema] of Object.entries(shape)) {
      const parsed = schema.safeParse(undefined);
      const value = parsed.success ? parsed.data : undefined;
      out[name] = value === undefined ? undefined : Array.isArray(value) ? value.join(',') : String(value);
    }
  }
  return out;
}

export type SmsTransportConfig =
  | {
      kind: 'twilio';
      accountSid: string;
      authToken: string;
      fromNumber: string;
      apiUrl?: string;
      /** Extra CA certificates (PEM file) to trust for Twilio's TLS, e.g. a corporate proxy's. */
      caBundlePath?: string;
      /** Send through this HTTP(S) proxy (the SDK's own transport, which supports it). */
      httpProxy?: string;
    }
  | { kind: 'outbox'; path: string };

export type EmailTransportConfig = { kind: 'ses'; fromAddress: string; region: string; endpoint?: string } | { kind: 'outbox'; path: string };

export type RedisTopology =
  | { mode: 'standalone' }
  | { mode: 'sentinel'; sentinels: { host: string; port: number }[]; name: string }
  | { mode: 'cluster'; nodes: { host: string; port: number }[] };

export type AppName = 'api' | 'worker';
export type Mode = 'development' | 'test' | 'production';

/** The only NODE_ENV values that leave production rules. */
const NON_PRODUCTION: readonly string[] = ['development', 'test'] satisfies Mode[];

/** The mode NODE_ENV selects: development and test by name, production for anything else, unset included. */
export function modeOf(nodeEnv: string | undefined): Mode {
  return nodeEnv !== undefined && NON_PRODUCTION.includes(nodeEnv) ? (nodeEnv as Mode) : 'production';
}

/** Settings both apps read. */
export interface SharedConfig {
  mode: Mode;
  /** NODE_ENV as it was given, undefined when unset or empty: start-up says which value chose the mode. */
  nodeEnv: string | undefined;
  /** Variables (names only) this app read whose value is a development secret generated by `npm start`. */
  generatedSecrets: readonly SecretName[];
  /**
   * `url` carries credentials, TLS (`rediss://`) and the database for every
   * mode; sentinel and cluster modes add their node lists.
   */
  redis: { url: string; keyPrefix: string; commandTimeoutMs: number; topology: RedisTopology };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * `json`: one JSON object per line (the default in every mode); `pretty`:
   * the same redacted objects formatted for a person by pino-pretty, which
   * must then be installed (a devDependency).
   */
  logFormat: 'json' | 'pretty';
  /** When set, `/metrics` requires `Authorization: Bearer <token>`. */
  metricsToken?: string;
  tokenHashSecret: string;
  tokenPolicy: TokenPolicy;
  /** Country calling codes SMS may be sent to (E.164 prefixes without the `+`). */
  smsAllowedCountryCodes: readonly string[];
  retry: DispatchRetryPolicy;
  /** How long finished send jobs stay in the queue. */
  lifetimes: Pick<DataLifetimes, 'completedJobSeconds' | 'failedJobSeconds'>;
}

/** The api's configuration. */
export interface ApiConfig extends SharedConfig {
  http: { host: string; port: number; bodyLimitBytes: number; requestTimeoutMs: number };
  docsEnabled: boolean;
  adminToken: string;
  /** Basic-auth users of the queue dashboard (the admin bearer token always has full access). */
  board: { full?: { username: string; password: string }; readOnly?: { username: string; password: string } };
  sendLimits: SendLimitPolicy;
  guessLimits: GuessLimitPolicy;
  authMaxClockSkewSeconds: number;
  /**
   * How far apart the clocks of two api instances may be: a used signature
   * is remembered for the accepted window on both sides plus this, so an
   * instance whose clock is behind the one that accepted it still knows it.
   */
  authClockSkewMarginSeconds: number;
  /** Twilio delivery receipts: the public URL they are posted to (and signed over) and the key of their signatures; absent: not taken. */
  receipts?: { callbackUrl: string; authToken: string };
  /** Replicas a send request's writes must reach before the 202 (WAIT / WAITAOF), and how long to wait; 0: no waiting. */
  replicaAck: { minReplicas: number; timeoutMs: number };
  lifetimes: Pick<DataLifetimes, 'completedJobSeconds' | 'failedJobSeconds' | 'pendingDeviceSeconds' | 'dispatchSeconds'>;
}

/** The worker's configuration. */
export interface WorkerConfig extends SharedConfig {
  /**
   * `lockDurationMs`: how long a job stays locked to a worker without a renewal;
   * `stalledIntervalMs`: how often workers look for jobs whose lock expired (a
   * crashed worker's), which go back to the queue. Together they bound how long
   * a crash delays a send.
   */
  worker: {
    /** Jobs in flight per send queue (SMS, e-mail) in this process. */
    concurrency: number;
    httpHost: string;
    httpPort: number;
    shutdownGraceMs: number;
    lockDurationMs: number;
    stalledIntervalMs: number;
    /** How often, and after how long, a dispatch recorded but never queued gets its job (see RepairProcessor). */
    repairIntervalMs: number;
  };
  providerTimeoutMs: number;
  /**
   * Sends per second allowed through each channel's provider, all workers
   * together (BullMQ's limiter on the channel's queue); 0: no limit of ours.
   */
  sendRates: { sms: number; email: number };
  sms: SmsTransportConfig;
  email: EmailTransportConfig;
  messages: { smsTemplate: string; emailSubject: string; emailTemplate: string };
  /** Public URL of the api's delivery-receipt endpoint: each SMS asks Twilio for receipts there. */
  twilioStatusCallbackUrl?: string;
  lifetimes: Pick<DataLifetimes, 'completedJobSeconds' | 'failedJobSeconds' | 'providerMessageSeconds'>;
}

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    heading = 'Invalid configuration',
  ) {
    super(`${heading}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** `mode production (NODE_ENV unset)`: the mode and the NODE_ENV value it came from. */
export function describeMode(config: Pick<SharedConfig, 'mode' | 'nodeEnv'>): string {
  return `mode ${config.mode} (${nodeEnvText(config.nodeEnv)})`;
}

/** The start-up line: the mode, where it came from, and which generated development secrets (names only) are in use. */
export function startupLine(config: Pick<SharedConfig, 'mode' | 'nodeEnv' | 'generatedSecrets'>): string {
  const generated =
    config.generatedSecrets.length === 0
      ? 'no generated secret in use'
      : `generated development secrets in use: ${config.generatedSecrets.join(', ')} (from npm start)`;
  return `${describeMode(config)}; ${generated}`;
}

function nodeEnvText(nodeEnv: string | undefined): string {
  if (nodeEnv === undefined) return 'NODE_ENV unset';
  // Not a secret, but printed: keep odd values readable and short.
  return /^[\w.-]{1,40}$/.test(nodeEnv) ? `NODE_ENV=${nodeEnv}` : `NODE_ENV=${JSON.stringify(nodeEnv.slice(0, 40))}`;
}

/** Secrets each app reads, in the order problems are listed. */
const SECRETS_OF: Record<AppName, readonly SecretName[]> = {
  api: ['ADMIN_TOKEN', 'TOKEN_HASH_SECRET', 'METRICS_TOKEN', 'BOARD_PASSWORD', 'BOARD_READONLY_PASSWORD'],
  worker: ['TOKEN_HASH_SECRET', 'METRICS_TOKEN'],
};
/** What each required secret is for, as its refusal says. */
const REQUIRED_SECRET_PURPOSE = {
  ADMIN_TOKEN: "the admin API's bearer token",
  TOKEN_HASH_SECRET: 'the key of the token HMACs',
} as const;
const REQUIRED_SECRETS: Record<AppName, readonly (keyof typeof REQUIRED_SECRET_PURPOSE)[]> = {
  api: ['ADMIN_TOKEN', 'TOKEN_HASH_SECRET'],
  worker: ['TOKEN_HASH_SECRET'],
};

export function loadConfig(env: NodeJS.ProcessEnv, app: 'api'): ApiConfig;
export function loadConfig(env: NodeJS.ProcessEnv, app: 'worker'): WorkerConfig;
export function loadConfig(env: NodeJS.ProcessEnv, app: AppName): ApiConfig | WorkerConfig;
export function loadConfig(env: NodeJS.ProcessEnv, app: AppName): ApiConfig | WorkerConfig {
  const nodeEnv = optionalString.parse(env.NODE_ENV);
  const mode = modeOf(nodeEnv);
  const production = mode === 'production';
  const heading = `Invalid configuration for the ${app} (${describeMode({ mode, nodeEnv })}${production ? '; only development and test are not production' : ''})`;
  const fail = (issues: z.core.$ZodIssue[]) =>
    new ConfigError(
      issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
      heading,
    );

  // Each app validates only what it reads: a setting of the other app's is not looked at.
  const problems: string[] = [];
  if (app === 'api') {
    const parsed = ApiEnv.safeParse(env);
    if (!parsed.success) throw fail(parsed.error.issues);
    const e = parsed.data;
    const shared = sharedConfig(e, app, mode, nodeEnv, problems);
    for (const [old, current] of Object.entries(RENAMED_API_SETTINGS)) {
      if (env[old] !== undefined) problems.push(`${old}: not read; set ${current}`);
    }
    if (production) {
      // The dashboard can retry and remove jobs: in production it has a user of its own, not only the admin token.
      for (const name of ['BOARD_USERNAME', 'BOARD_PASSWORD'] as const) {
        if (!e[name]) problems.push(`${name}: required in production (the queue dashboard's full-access user)`);
      }
    }
    const pair = (user: string | undefined, password: string | undefined, name: 'BOARD' | 'BOARD_READONLY') => {
      if (!user && !password) return undefined;
      if (!user || !password) {
        // In production the missing half of the full-access user is already named.
        if (!(production && name === 'BOARD')) problems.push(`${name}_USERNAME, ${name}_PASSWORD: set both or neither`);
        return undefined;
      }
      return { username: user, password };
    };
    const board = {
      full: pair(e.BOARD_USERNAME, e.BOARD_PASSWORD, 'BOARD'),
      readOnly: pair(e.BOARD_READONLY_USERNAME, e.BOARD_READONLY_PASSWORD, 'BOARD_READONLY'),
    };
    if (e.REDIS_MIN_REPLICAS_ACK > 0 && e.REDIS_REPLICAS_ACK_TIMEOUT_MS >= e.REDIS_COMMAND_TIMEOUT_MS) {
      problems.push('REDIS_REPLICAS_ACK_TIMEOUT_MS: must be shorter than REDIS_COMMAND_TIMEOUT_MS (the wait is a command of its own)');
    }
    // A device and its send's record outlive every code sent to it: the hand-off may come a retry window after the request.
    const codeLifetimeSeconds = e.TOKEN_TTL_SECONDS + Math.ceil(maxRetryWindowMs(shared.retry) / 1000);
    for (const name of ['PENDING_DEVICE_TTL_SECONDS', 'DISPATCH_TTL_SECONDS'] as const) {
      if (e[name] <= codeLifetimeSeconds) {
        problems.push(`${name}: must be longer than TOKEN_TTL_SECONDS plus the retry window (${codeLifetimeSeconds} s), so it outlives the codes it sends`);
      }
    }
    if (e.TWILIO_STATUS_CALLBACK_URL && !e.TWILIO_AUTH_TOKEN) {
      problems.push('TWILIO_AUTH_TOKEN: required when TWILIO_STATUS_CALLBACK_URL is set (delivery receipts are signed with it)');
    }
    if (problems.length > 0) throw new ConfigError(problems, heading);
    const config: ApiConfig = {
      ...shared,
      http: { host: e.HOST, port: e.PORT, bodyLimitBytes: e.BODY_LIMIT_BYTES, requestTimeoutMs: e.REQUEST_TIMEOUT_MS },
      docsEnabled: e.DOCS_ENABLED === 'true',
      adminToken: e.ADMIN_TOKEN!,
      board,
      sendLimits: {
        coalesceWindowSeconds: e.RESEND_COALESCE_SECONDS,
        perDevice: e.SEND_LIMIT_PER_DEVICE,
        perDestination: e.SEND_LIMIT_PER_DESTINATION,
        windowSeconds: e.SEND_LIMIT_WINDOW_SECONDS,
      },
      guessLimits: {
        perApprover: e.GUESS_LIMIT_PER_APPROVER,
        perAccount: e.GUESS_LIMIT_PER_ACCOUNT,
        windowSeconds: e.GUESS_LIMIT_WINDOW_SECONDS,
        deviceCreationsPerAccount: e.DEVICE_LIMIT_PER_ACCOUNT,
        deviceCreationWindowSeconds: e.DEVICE_LIMIT_WINDOW_SECONDS,
      },
      authMaxClockSkewSeconds: e.AUTH_MAX_CLOCK_SKEW_SECONDS,
      authClockSkewMarginSeconds: e.AUTH_CLOCK_SKEW_MARGIN_SECONDS,
      receipts: e.TWILIO_STATUS_CALLBACK_URL ? { callbackUrl: e.TWILIO_STATUS_CALLBACK_URL, authToken: e.TWILIO_AUTH_TOKEN! } : undefined,
      replicaAck: { minReplicas: e.REDIS_MIN_REPLICAS_ACK, timeoutMs: e.REDIS_REPLICAS_ACK_TIMEOUT_MS },
      lifetimes: { ...shared.lifetimes, pendingDeviceSeconds: e.PENDING_DEVICE_TTL_SECONDS, dispatchSeconds: e.DISPATCH_TTL_SECONDS },
    };
    return Object.freeze(config);
  }

  const parsed = WorkerEnv.safeParse(env);
  if (!parsed.success) throw fail(parsed.error.issues);
  const e = parsed.data;
  const shared = sharedConfig(e, app, mode, nodeEnv, problems);
  const twilioVars = { TWILIO_ACCOUNT_SID: e.TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN: e.TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER: e.TWILIO_FROM_NUMBER };
  const twilioMissing = Object.entries(twilioVars)
    .filter(([, v]) => !v)
    .map(([k]) => k);
  let sms: SmsTransportConfig;
  if (twilioMissing.length === 0) {
    sms = {
      kind: 'twilio',
      accountSid: e.TWILIO_ACCOUNT_SID!,
      authToken: e.TWILIO_AUTH_TOKEN!,
      fromNumber: e.TWILIO_FROM_NUMBER!,
      apiUrl: e.TWILIO_API_URL,
      caBundlePath: e.TWILIO_CA_BUNDLE,
      httpProxy: e.HTTP_PROXY,
    };
  } else {
    if (production) problems.push(`${twilioMissing.join(', ')}: required in production (SMS delivery through Twilio)`);
    else if (twilioMissing.length < 3) problems.push(`${twilioMissing.join(', ')}: set all three Twilio settings or none`);
    sms = { kind: 'outbox', path: e.OUTBOX_PATH };
  }
  let email: EmailTransportConfig;
  if (e.SES_FROM_ADDRESS) {
    email = { kind: 'ses', fromAddress: e.SES_FROM_ADDRESS, region: e.AWS_REGION, endpoint: e.SES_ENDPOINT };
  } else {
    if (production) problems.push('SES_FROM_ADDRESS: required in production (e-mail delivery through SES)');
    email = { kind: 'outbox', path: e.OUTBOX_PATH };
  }
  if (problems.length > 0) throw new ConfigError(problems, heading);
  const config: WorkerConfig = {
    ...shared,
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      httpHost: e.WORKER_HTTP_HOST,
      httpPort: e.WORKER_HTTP_PORT,
      shutdownGraceMs: e.WORKER_SHUTDOWN_GRACE_MS,
      lockDurationMs: e.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS,
      repairIntervalMs: e.DISPATCH_REPAIR_INTERVAL_MS,
    },
    providerTimeoutMs: e.PROVIDER_TIMEOUT_MS,
    sendRates: { sms: e.TWILIO_SENDS_PER_SECOND, email: e.SES_SENDS_PER_SECOND },
    sms,
    email,
    messages: { smsTemplate: e.SMS_TEMPLATE, emailSubject: e.EMAIL_SUBJECT, emailTemplate: e.EMAIL_TEMPLATE },
    twilioStatusCallbackUrl: e.TWILIO_STATUS_CALLBACK_URL,
    lifetimes: { ...shared.lifetimes, providerMessageSeconds: e.PROVIDER_MESSAGE_TTL_SECONDS },
  };
  return Object.freeze(config);
}

/** The settings both apps read; problems are added to `problems` (secrets, the token alphabet, the retry window, Redis). */
function sharedConfig(
  e: z.infer<typeof SharedEnv> & Partial<Record<SecretName, string>>,
  app: AppName,
  mode: Mode,
  nodeEnv: string | undefined,
  problems: string[],
): SharedConfig {
  const production = mode === 'production';
  for (const name of REQUIRED_SECRETS[app]) {
    if (!e[name]) problems.push(`${name}: required (${REQUIRED_SECRET_PURPOSE[name]}; e.g. \`openssl rand -hex 32\`)`);
  }
  const generatedSecrets: SecretName[] = [];
  for (const name of SECRETS_OF[app]) {
    const value = e[name];
    if (value === undefined) continue;
    problems.push(...secretProblems(name, value, production));
    if (isGeneratedSecret(value)) generatedSecrets.push(name);
  }
  if (new Set(e.TOKEN_ALPHABET).size !== e.TOKEN_ALPHABET.length) problems.push('TOKEN_ALPHABET: characters must be unique');
  const retry: DispatchRetryPolicy = { attempts: e.DISPATCH_ATTEMPTS, backoffMs: e.DISPATCH_BACKOFF_MS };
  if (maxRetryWindowMs(retry) >= e.TOKEN_TTL_SECONDS * 1000) {
    problems.push('DISPATCH_ATTEMPTS/DISPATCH_BACKOFF_MS: the retry window must be shorter than TOKEN_TTL_SECONDS');
  }
  return {
    mode,
    nodeEnv,
    generatedSecrets,
    redis: { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX, commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS, topology: redisTopology(e, problems) },
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    metricsToken: e.METRICS_TOKEN,
    tokenHashSecret: e.TOKEN_HASH_SECRET!,
    tokenPolicy: { alphabet: e.TOKEN_ALPHABET, length: e.TOKEN_LENGTH, ttlSeconds: e.TOKEN_TTL_SECONDS, maxFailedAttempts: e.TOKEN_MAX_FAILED_ATTEMPTS },
    smsAllowedCountryCodes: e.SMS_ALLOWED_COUNTRY_CODES,
    retry,
    lifetimes: { completedJobSeconds: e.COMPLETED_JOB_TTL_SECONDS, failedJobSeconds: e.FAILED_JOB_TTL_SECONDS },
  };
}

function hostPorts(list: string, variable: string, problems: string[]): { host: string; port: number }[] {
  const nodes = list
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const m = item.match(/^\[?([^\]]+?)\]?:(\d{1,5})$/);
      return m ? { host: m[1], port: Number(m[2]) } : undefined;
    });
  if (nodes.length === 0 || nodes.some((n) => !n || n.port < 1 || n.port > 65535)) {
    problems.push(`${variable}: expected a comma-separated list of host:port`);
    return [];
  }
  return nodes as { host: string; port: number }[];
}

function redisTopology(e: z.infer<typeof SharedEnv>, problems: string[]): RedisTopology {
  if (e.REDIS_MODE === 'sentinel') {
    if (!e.REDIS_SENTINELS) problems.push('REDIS_SENTINELS: required when REDIS_MODE=sentinel');
    return { mode: 'sentinel', sentinels: e.REDIS_SENTINELS ? hostPorts(e.REDIS_SENTINELS, 'REDIS_SENTINELS', problems) : [], name: e.REDIS_SENTINEL_NAME };
  }
  if (e.REDIS_MODE === 'cluster') {
    if (!e.REDIS_CLUSTER_NODES) problems.push('REDIS_CLUSTER_NODES: required when REDIS_MODE=cluster');
    // Multi-key scripts and BullMQ need their keys in one hash slot.
    if (!/^\{[^{}]+\}$/.test(e.REDIS_KEY_PREFIX)) problems.push('REDIS_KEY_PREFIX: must be a hash tag such as {dts} when REDIS_MODE=cluster');
    return { mode: 'cluster', nodes: e.REDIS_CLUSTER_NODES ? hostPorts(e.REDIS_CLUSTER_NODES, 'REDIS_CLUSTER_NODES', problems) : [] };
  }
  return { mode: 'standalone' };
}

/** For `main.ts`: load or exit with the problems listed (exit code 78, EX_CONFIG), without a stack trace. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv, app: 'api'): ApiConfig;
export function loadConfigOrExit(env: NodeJS.ProcessEnv, app: 'worker'): WorkerConfig;
export function loadConfigOrExit(env: NodeJS.ProcessEnv, app: AppName): ApiConfig | WorkerConfig {
  try {
    return loadConfig(env, app);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}
