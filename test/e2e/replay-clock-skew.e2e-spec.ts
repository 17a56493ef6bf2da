/**
 * The replay memory outlasts the accepted window on every api instance, with
 * a margin for clock skew between instances (AUTH_CLOCK_SKEW_MARGIN_SECONDS).
 *
 * Two built api processes share one Redis and key prefix; B runs with
 * Debian's libfaketime preloaded, its clock 3 s behind A's (preloaded rather
 * than under the `faketime` wrapper, which does not pass SIGTERM on). A signature accepted by A at
 * the edge of the window (timestamp 4.5 s ahead, window 5 s) is replayed to
 * B once A's window has closed and after A's mark would have expired had it
 * lasted only twice the window, but while B, whose clock is behind, still
 * accepts the timestamp. The margin must keep the mark alive until then.
 *
 * Times are taken from the test's own clock (A's, the host's) and each step
 * checks it ran in time, so a slow machine fails loudly instead of passing
 * for the wrong reason.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { http } from '../support/api-client';
import { expectError } from '../support/e2e-checks';
import { Stack } from '../support/stack';

/** Debian's libfaketime (package libfaketime, pulled in by faketime), under /usr/lib/<arch>/faketime/. */
function libfaketime(): string {
  const found = readdirSync('/usr/lib')
    .map((dir) => join('/usr/lib', dir, 'faketime', 'libfaketime.so.1'))
    .find((path) => existsSync(path));
  if (!found) throw new Error('libfaketime.so.1 not found under /usr/lib/*/faketime/: apt-get install faketime');
  return found;
}
const SKEW_S = 5;
const B_BEHIND_S = 3;
/** Larger than B's lag, as the setting must be larger than the skew between instances. */
const MARGIN_S = 4;
/** The signed timestamp, ahead of A's clock: near the edge of A's window. */
const AHEAD_MS = 4_500;
/** When the copy reaches B, after the timestamp: past A's window and 2 × window after A's mark, inside B's window. */
const REPLAY_AT_MS = 6_750;

const sleepUntil = (t: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, t - Date.now())));

describe('replay memory across api instances whose clocks differ', () => {
  let stack: Stack;
  let bUrl: string;

  beforeAll(async () => {
    const env = { AUTH_MAX_CLOCK_SKEW_SECONDS: String(SKEW_S), AUTH_CLOCK_SKEW_MARGIN_SECONDS: String(MARGIN_S) };
    stack = await Stack.start({ label: 'replay-skew', env, startWorker: false });
    const b = await stack.startApi({ ...env, LD_PRELOAD: libfaketime(), FAKETIME: `-${B_BEHIND_S}s` });
    bUrl = b.url!;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('B is an instance of its own whose clock runs behind A', async () => {
    const client = await stack.newClient();
    const { accountKey } = await stack.newAccount(client.clientKey);
    const path = `/account/${accountKey}/device/${randomUUID()}`;
    // 7 s old: outside A's window, inside B's (4 s old by B's clock).
    const headers = await client.headersFor('GET', path, undefined, { timestamp: new Date(Date.now() - 7_000) });
    expectError(await http(stack.apiUrl + path, { method: 'GET', headers }), 'GDF000014', { reason: 'timestamp outside the accepted window' });
    expectError(await http(bUrl + path, { method: 'GET', headers }), 'OBD000100'); // authenticated, then: no such device
  });

  it('refuses on B a signature A accepted at the edge of its window, after 2 × the window', async () => {
    const client = await stack.newClient();
    const { accountKey } = await stack.newAccount(client.clientKey);
    const path = `/account/${accountKey}/device/${randomUUID()}`;
    const timestamp = Date.now() + AHEAD_MS;
    const headers = await client.headersFor('GET', path, undefined, { timestamp: new Date(timestamp) });

    const first = await http(stack.apiUrl + path, { method: 'GET', headers });
    expectError(first, 'OBD000100'); // accepted by A
    // A marked it before now: a mark lasting only 2 × window would be gone when the copy reaches B.
    expect(Date.now() + 2 * SKEW_S * 1000).toBeLessThan(timestamp + REPLAY_AT_MS);

    await sleepUntil(timestamp + REPLAY_AT_MS);
    expectError(await http(stack.apiUrl + path, { method: 'GET', headers }), 'GDF000014', { reason: 'timestamp outside the accepted window' });
    const replay = await http(bUrl + path, { method: 'GET', headers });
    // Still inside B's window, so the refusal below is the replay memory's, not the clock check's.
    expect(Date.now()).toBeLessThan(timestamp + (SKEW_S + B_BEHIND_S) * 1000);
    expectError(replay, 'GDF000014', { reason: 'signature already used' });
  }, 30_000);
});
