/**
 * The api's access line keeps only allow-listed headers, on the built api
 * process: requests of every kind (a signed device-API call, the admin API,
 * the dashboard, an unknown path, a refused media type) carry credentials in
 * headers nobody expects (X-Api-Key, X-Auth-Token, Proxy-Authorization,
 * Cookie, X-Forwarded-Authorization, a custom header holding a JWT, a Referer
 * with a token in its query) and none of those values appears in anything the
 * api printed, while the harmless headers (user-agent, x-request-id,
 * api-client-key…) are still on each request's line.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parseLogLines } from '../support/logs';
import { closeRawAgent, rawRequest, type RawRequest } from '../support/raw-http';
import { Stack } from '../support/stack';

const BOARD_USER = { username: 'ops-access-log', password: `board-password-${randomBytes(8).toString('hex')}` };

const b64url = (text: string) => Buffer.from(text).toString('base64url');

describe('access log: allowed headers only', () => {
  let stack: Stack;
  const jwt = `${b64url('{"alg":"ES512","typ":"JWT"}')}.${b64url(`{"sub":"${randomUUID()}"}`)}.${randomBytes(66).toString('base64url')}`;
  const proxyPassword = `proxy-password-${randomBytes(8).toString('hex')}`;
  const cookieValue = `session-${randomBytes(12).toString('hex')}`;
  const refererToken = `reset-${randomBytes(12).toString('hex')}`;
  /** Credentials where the api expects none: each value must stay out of every line. */
  const unexpected: [string, string][] = [
    ['X-Api-Key', `sk_live_${randomBytes(16).toString('hex')}`],
    ['X-Auth-Token', `auth-${randomBytes(16).toString('hex')}`],
    ['Proxy-Authorization', `Basic ${Buffer.from(`proxy:${proxyPassword}`).toString('base64')}`],
    ['Cookie', `sid=${cookieValue}; theme=dark`],
    ['X-Forwarded-Authorization', `Bearer ${randomBytes(24).toString('hex')}`],
    ['X-Upstream-Assertion', jwt],
    ['Referer', `https://app.example/reset?token=${refererToken}`],
  ];
  const secrets = [...unexpected.map(([, value]) => value), ...jwt.split('.'), proxyPassword, cookieValue, refererToken, BOARD_USER.password];
  /** request id → what the line of that request must show. */
  const sent = new Map<string, { userAgent: string; method: string; path: string }>();

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'access-log',
      startWorker: false,
      env: { BOARD_USERNAME: BOARD_USER.username, BOARD_PASSWORD: BOARD_USER.password },
    });
    const client = await stack.newClient();
    const send = async (name: string, req: RawRequest) => {
      const requestId = `access-log-${name}-${randomBytes(4).toString('hex')}`;
      const userAgent = `access-log-e2e/${name}`;
      const res = await rawRequest(stack.apiUrl, {
        ...req,
        headers: [...(req.headers ?? []), ...unexpected, ['User-Agent', userAgent], ['X-Request-Id', requestId]],
      });
      expect(res.status).toBeGreaterThanOrEqual(200);
      sent.set(requestId, { userAgent, method: req.method, path: req.path });
    };

    const devicePath = `/account/${randomUUID()}/device/${randomUUID()}`;
    const signed = await client.headersFor('GET', devicePath, undefined);
    await send('device-api', { method: 'GET', path: devicePath, headers: Object.entries(signed) });
    const clientBody = Buffer.from(JSON.stringify({ name: 'x', public_key: 'not a key' }));
    await send('admin-api', {
      method: 'PUT',
      path: `/internal/clients/${randomUUID()}`,
      headers: [
        ['Authorization', `Bearer ${randomBytes(16).toString('hex')}`],
        ['Content-Type', 'application/json'],
      ],
      body: clientBody,
    });
    const basic = `Basic ${Buffer.from(`${BOARD_USER.username}:${BOARD_USER.password}`).toString('base64')}`;
    await send('dashboard', { method: 'GET', path: '/admin/queues/api/queues', headers: [['Authorization', basic]] });
    await send('unknown-path', { method: 'GET', path: '/no/such/route' });
    await send('media-type', {
      method: 'POST',
      path: `/account/${randomUUID()}/device`,
      headers: [['Content-Type', 'text/plain']],
      body: Buffer.from('hello'),
    });

    // Lines are written in order: once the last request's line is out, every earlier one is.
    const last = [...sent.keys()].pop()!;
    await stack.api.waitFor(new RegExp(`"requestId":"${last}"`));
  }, 60_000);

  afterAll(async () => {
    closeRawAgent();
    await stack?.stop();
  });

  it('prints none of the credentials sent in unexpected headers, in any line', () => {
    const text = stack.api.output.join('\n');
    expect(secrets.filter((value) => text.includes(value))).toEqual([]);
  });

  it("still records each request's allowed headers (user-agent, x-request-id) on its access line", () => {
    const lines = parseLogLines(stack.api.output).filter((l) => l.msg === 'request completed');
    for (const [requestId, expected] of sent) {
      const line = lines.find((l) => l.requestId === requestId);
      const req = line?.req as { method?: string; url?: string; headers?: Record<string, unknown> } | undefined;
      expect({ requestId, method: req?.method, url: req?.url, userAgent: req?.headers?.['user-agent'], xRequestId: req?.headers?.['x-request-id'] }).toEqual({
        requestId,
        method: expected.method,
        url: expected.path,
        userAgent: expected.userAgent,
        xRequestId: requestId,
      });
    }
  });
});
