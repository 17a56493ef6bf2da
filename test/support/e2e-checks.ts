/**
 * Assertions shared by the error-catalog, authentication and send-limit
 * specs: the contract's error envelopes written out as wire facts (not read
 * from the implementation's catalog), a snapshot of everything the service
 * keeps in Redis (to prove a refused request changed nothing), and waits on
 * the worker's own events instead of sleeps.
 */
import type { ClientKeyKind } from '@lib/request-signing';
import { signRequest } from '@lib/request-signing';
import { codeIn, type Approver, type Stack } from './stack';
import { dumpValues, scanKeys, scanMatching } from './redis';
import { DISPATCH_QUEUES } from '@lib/dispatch-contract';
import { AUTH_FAILURE_DETAILS } from '@lib/domain';
import { http, type DeviceApiClient, type HttpResult } from './api-client';

export interface Envelope {
  title: string;
  description: string;
  translation: string;
  code: string;
  extra_fields: Record<string, unknown>;
}

/** The catalog as the contract (upstream codes) and docs/api.md (DTS codes, ours) state it. */
export const CATALOG: Record<string, { status: number; title: string; description: string; translation: string }> = {
  QIT000001: { status: 400, title: 'Bad Request', description: 'Schema Error', translation: 'Erro de Schema' },
  OBD000002: { status: 404, title: 'Not Found', description: 'Bank account not found', translation: 'Conta não encontrada' },
  OBD000088: {
    status: 400,
    title: 'Bad Request',
    description: 'Account blocked or closed can not perform this action',
    translation: 'A conta bloqueada ou fechada não pode executar esta ação',
  },
  OBD000089: {
    status: 400,
    title: 'Bad Request',
    description: 'Hub account can not perform this action',
    translation: 'A conta hub não pode executar esta ação',
  },
  OBD000090: {
    status: 403,
    title: 'No approver permission',
    description: 'Given document number does not belong to an approver for this account',
    translation: 'O documento informado não pertence a um aprovador desta conta',
  },
  OBD000097: {
    status: 400,
    title: 'Error occurred while sending token',
    description: 'An unexpected error occurred while sending token',
    translation: 'Um erro inexperado ocorreu ao tentar enviar token',
  },
  OBD000099: {
    status: 400,
    title: 'Number of token validation attempts exceeded',
    description: 'The maximum number of failed token validation attempts has been reached',
    translation: 'Número máximo de tentativas de validação de token atingida',
  },
  OBD000100: {
    status: 404,
    title: 'Device not found',
    description: 'No device is associated with the provided device_key.',
    translation: 'Nenhum dispositivo está associado à device_key fornecida.',
  },
  GDF000003: { status: 400, title: 'Bad Request', description: 'No API Client Key received', translation: 'Nenhuma chave de API do cliente recebida' },
  GDF000014: {
    status: 401,
    title: 'QI Unauthenticated',
    description: 'Please provide valid credentials as part of the request. Details: {detail}',
    translation: 'Por favor forneça credenciais válidas como parte da request. Detalhes: {detalhe}',
  },
  GDF000018: {
    status: 404,
    title: 'Not Found',
    description: 'No ClientIntegration found for api_client_key: {api_client_key}.',
    translation: 'Nenhuma ClientIntegration encontrada para api_client_key: {api_client_key}.',
  },
  DTS000001: {
    status: 400,
    title: 'Incorrect token',
    description: 'The token informed does not match the token sent',
    translation: 'O token informado não corresponde ao token enviado',
  },
  DTS000002: {
    status: 400,
    title: 'Invalid status',
    description: 'The device status does not allow this action',
    translation: 'O status do dispositivo não permite esta ação',
  },
  DTS000003: {
    status: 409,
    title: 'Device already exists',
    description: 'A device with the provided device_key already exists',
    translation: 'Já existe um dispositivo com a device_key fornecida',
  },
  DTS000004: {
    status: 429,
    title: 'Too many token requests',
    description: 'The limit of token sends for this device or destination has been reached; try again later',
    translation: 'O limite de envios de token para este dispositivo ou destino foi atingido; tente novamente mais tarde',
  },
  DTS000005: {
    status: 400,
    title: 'Token expired',
    description: 'There is no valid token for this device; request a new one',
    translation: 'Não há token válido para este dispositivo; solicite um novo',
  },
  DTS000006: { status: 404, title: 'Not Found', description: 'Route not found', translation: 'Rota não encontrada' },
  DTS000007: {
    status: 415,
    title: 'Unsupported Media Type',
    description: 'The request body must be application/json',
    translation: 'O corpo da requisição deve ser application/json',
  },
  DTS000008: {
    status: 413,
    title: 'Payload Too Large',
    description: 'The request body is larger than allowed',
    translation: 'O corpo da requisição é maior que o permitido',
  },
  DTS000009: {
    status: 401,
    title: 'Unauthorized',
    description: 'Missing or invalid admin credentials',
    translation: 'Credenciais de administrador ausentes ou inválidas',
  },
  DTS000012: { status: 403, title: 'Forbidden', description: 'Missing or invalid webhook signature', translation: 'Assinatura do webhook ausente ou inválida' },
  DTS000013: {
    status: 429,
    title: 'Too many failed token validations',
    description: 'The limit of failed token validations for this approver or account has been reached; try again later',
    translation: 'O limite de validações de token com falha para este aprovador ou conta foi atingido; tente novamente mais tarde',
  },
  DTS000014: {
    status: 429,
    title: 'Too many devices',
    description: 'The limit of new devices for this account has been reached; try again later',
    translation: 'O limite de novos dispositivos para esta conta foi atingido; tente novamente mais tarde',
  },
  DTS000015: { status: 403, title: 'Forbidden', description: 'Cross-origin request refused', translation: 'Requisição de outra origem recusada' },
  DTS000016: {
    status: 431,
    title: 'Request Header Fields Too Large',
    description: 'The request line or headers are larger than allowed',
    translation: 'A linha de requisição ou os cabeçalhos são maiores que o permitido',
  },
  DTS000017: {
    status: 408,
    title: 'Request Timeout',
    description: 'The request was not received in time',
    translation: 'A requisição não foi recebida a tempo',
  },
  DTS000018: { status: 400, title: 'Bad Request', description: 'The request is not valid HTTP', translation: 'A requisição não é HTTP válido' },
};

/**
 * GDF000014's detail for each reason: upstream's own words for a token that
 * does not decode or verify (contract), ours for the other causes.
 */
const AUTH_DETAILS: Record<string, [en: string, pt: string]> = {
  'invalid signature': ['Failed while decoding the authentication token', 'Falha ao decodificar o token de autenticação'],
  'algorithm not allowed': ['Failed while decoding the authentication token', 'Falha ao decodificar o token de autenticação'],
  ...Object.fromEntries(Object.entries(AUTH_FAILURE_DETAILS).map(([reason, d]) => [reason, [d.en, d.pt]])),
};

/** The client key GDF000018 names, if any (only a canonical UUID is echoed). */
export interface EnvelopeValues {
  api_client_key?: string;
}

/** The exact body the contract prescribes for `code`, with these extra fields (and GDF000014's detail from its reason). */
export function envelope(code: string, extra_fields: Record<string, unknown> = {}, values: EnvelopeValues = {}): Envelope {
  const entry = CATALOG[code];
  if (!entry) throw new Error(`no catalog entry for ${code} in the test table`);
  const detail = typeof extra_fields.reason === 'string' ? AUTH_DETAILS[extra_fields.reason] : undefined;
  if (code === 'GDF000014' && !detail) throw new Error(`no GDF000014 detail for reason ${String(extra_fields.reason)}`);
  const fill = (text: string, i: 0 | 1) =>
    text
      .replace(/\{(detail|detalhe)\}/, detail?.[i] ?? '')
      .replace(/: \{api_client_key\}/, values.api_client_key === undefined ? '' : `: ${values.api_client_key}`);
  return { title: entry.title, description: fill(entry.description, 0), translation: fill(entry.translation, 1), code, extra_fields };
}

/** Status, JSON content type and the whole envelope, in one comparison (so a failure shows all of it). */
export function expectError(res: HttpResult, code: string, extra_fields: Record<string, unknown> = {}, values: EnvelopeValues = {}): void {
  expect({ status: res.status, contentType: res.headers.get('content-type'), body: res.body }).toEqual({
    status: CATALOG[code].status,
    contentType: 'application/json; charset=utf-8',
    body: envelope(code, extra_fields, values),
  });
}

/** A schema error naming each field and why, in order. */
export function schemaErrors(...errors: [field: string, reason: string][]): Record<string, unknown> {
  return { errors: errors.map(([field, reason]) => ({ field, reason })) };
}

const UUID_TAIL = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Number of dispatch records (one per token send requested). */
export async function dispatchCount(stack: Stack): Promise<number> {
  return (await scanMatching(stack.redis, stack.keys.dispatch('*'))).length;
}

/** Number of BullMQ send-token jobs ever added (their hashes are kept after completion). */
export async function jobCount(stack: Stack): Promise<number> {
  let count = 0;
  for (const name of Object.values(DISPATCH_QUEUES)) {
    const queue = `${stack.keys.queuePrefix}:${name}`;
    const keys = await scanKeys(stack.redis, queue);
    count += keys.filter((k) => UUID_TAIL.test(k) && k.slice(0, -37) === queue).length;
  }
  return count;
}

/**
 * Everything the service stores for devices, accounts, clients, limits and
 * dispatches, value by value, plus the number of queued jobs. Leaves out the
 * replay-guard keys (every authenticated request adds one, by design) and the
 * queue's own bookkeeping (the worker's heartbeats change it on their own).
 */
export async function stateSnapshot(stack: Stack): Promise<{ values: Record<string, string>; jobs: number }> {
  const all = await dumpValues(stack.redis, stack.prefix);
  const values: Record<string, string> = {};
  for (const [key, value] of [...all.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (key.startsWith(stack.keys.replay('')) || key.startsWith(`${stack.keys.queuePrefix}:`)) continue;
    values[key] = value;
  }
  return { values, jobs: await jobCount(stack) };
}

/**
 * Resolves once the worker is done with this dispatch: handed to the provider
 * and recorded as sent, or skipped (superseded by a newer send, device no
 * longer waiting). Returns which.
 */
export async function dispatchDone(stack: Stack, dispatchId: string, timeoutMs = 10_000): Promise<'sent' | 'skipped'> {
  if (!stack.worker) throw new Error('no worker in this stack');
  const [, how] = await stack.worker.waitFor(new RegExp(`\\[dispatch ${dispatchId}\\] (?:.* (handed to) |(skipped): )`), timeoutMs);
  return how === undefined ? 'skipped' : 'sent';
}

/** The ids of every dispatch recorded for a device, oldest first. */
export async function dispatchIdsOf(stack: Stack, deviceKey: string): Promise<string[]> {
  const found: { id: string; at: string }[] = [];
  for (const key of await scanMatching(stack.redis, stack.keys.dispatch('*'))) {
    const [device, id, at] = await stack.redis.hmget(key, 'device_key', 'dispatch_id', 'requested_at');
    if (device === deviceKey && id && at) found.push({ id, at });
  }
  return found.sort((a, b) => a.at.localeCompare(b.at)).map((d) => d.id);
}

/** Resolves once the worker is done with every dispatch of the device. */
export async function deviceSettled(stack: Stack, deviceKey: string): Promise<void> {
  const ids = await dispatchIdsOf(stack, deviceKey);
  if (ids.length === 0) throw new Error(`no dispatch recorded for device ${deviceKey}`);
  await Promise.all(ids.map((id) => dispatchDone(stack, id)));
}

/**
 * Resolves once `key` no longer exists, waiting on its own TTL (a timer is the
 * only event a Redis expiry offers). Fails if the key has no TTL.
 */
export async function keyExpired(stack: Stack, key: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pttl = await stack.redis.pttl(key);
    if (pttl === -2) return;
    if (pttl === -1) throw new Error(`${key} has no TTL`);
    if (Date.now() + pttl > deadline) throw new Error(`${key} still lives ${pttl} ms, beyond the ${timeoutMs} ms allowed`);
    await new Promise((resolve) => setTimeout(resolve, pttl + 2));
  }
}

/** The Redis key of a device's coalescing window. */
export function coalesceKey(stack: Stack, device: { accountKey: string; deviceKey: string }): string {
  return stack.keys.coalesce(device.accountKey, device.deviceKey);
}

/** A device waiting for approval, with everything needed to act on it, and its delivered code. */
export interface PendingDevice {
  client: DeviceApiClient & { publicKeyPem: string };
  accountKey: string;
  deviceKey: string;
  approver: Approver;
  code: string;
}

/** A new client, account and device whose first token the worker has delivered and recorded. */
export async function pendingDevice(stack: Stack, channel: 'sms' | 'email' = 'sms', kind: ClientKeyKind = 'p256'): Promise<PendingDevice> {
  const d = await stack.newDevice(channel, kind);
  await deviceSettled(stack, d.deviceKey);
  const text =
    channel === 'sms'
      ? stack.twilio.messages.find((m) => m.to === d.approver.phone_number)?.body
      : stack.ses.messages.find((m) => m.to.includes(d.approver.email))?.body;
  if (text === undefined) throw new Error(`no ${channel} delivered for device ${d.deviceKey}`);
  return { client: d.client, accountKey: d.accountKey, deviceKey: d.deviceKey, approver: d.approver, code: codeIn(text) };
}

/** A 6-digit code other than `code`. */
export const wrongCode = (code: string) => (code === '000000' ? '111111' : '000000');

/**
 * Runs `act` and checks that it changed nothing: the devices look the same
 * through the query endpoint, no dispatch or job was added, and every value
 * the service keeps in Redis is as it was (see `stateSnapshot`).
 */
export async function unchanged<T>(stack: Stack, devices: PendingDevice[], act: () => Promise<T>): Promise<T> {
  const view = () => Promise.all(devices.map((d) => d.client.query(d.accountKey, d.deviceKey)));
  const before = await stateSnapshot(stack);
  const dispatches = await dispatchCount(stack);
  const viewsBefore = await view();
  const result = await act();
  expect((await view()).map((r) => [r.status, r.body])).toEqual(viewsBefore.map((r) => [r.status, r.body]));
  expect(await dispatchCount(stack)).toBe(dispatches);
  expect(await stateSnapshot(stack)).toEqual(before);
  return result;
}

/** What a caller can observe of a response; equal for cases that must be indistinguishable. */
export const observable = (r: HttpResult) => ({
  status: r.status,
  text: r.text,
  contentType: r.headers.get('content-type'),
  contentLength: r.headers.get('content-length'),
});

/** Signs and sends raw bytes (which need not be valid UTF-8), with the given content type if any. */
export async function sendBytes(client: DeviceApiClient, method: string, path: string, bytes: Buffer, contentType?: string): Promise<HttpResult> {
  const signed = await signRequest({ clientKey: client.clientKey, privateKey: client.privateKey, method, uri: path, body: bytes });
  return http(client.baseUrl + path, { method, headers: { ...signed, ...(contentType ? { 'content-type': contentType } : {}) }, body: bytes });
}
