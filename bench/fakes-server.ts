/**
 * The fake Twilio and SES of test/fakes, run as a process of their own for
 * the bench, with FAKE_LATENCY_MS before every answer. Reports over IPC when
 * each request arrived (before the latency), and keeps nothing else.
 */
import { FakeSes, FakeTwilio } from '../test/fakes';

const latencyMs = Number(process.env.FAKE_LATENCY_MS ?? 50);
const twilio = new FakeTwilio({ latencyMs });
const ses = new FakeSes({ latencyMs });

interface Arrival {
  provider: 'twilio' | 'ses';
  to: string;
  t: number;
}
let arrivals: Arrival[] = [];

function drain(): void {
  // The fakes record every request; hand the arrivals over and forget the rest.
  for (const r of twilio.requests) {
    const to = (r.body as Record<string, string> | undefined)?.To ?? '';
    arrivals.push({ provider: 'twilio', to, t: r.receivedAt.getTime() });
  }
  for (const r of ses.requests) {
    const body = r.body as { Destination?: { ToAddresses?: string[] } } | undefined;
    arrivals.push({ provider: 'ses', to: body?.Destination?.ToAddresses?.[0] ?? '', t: r.receivedAt.getTime() });
  }
  twilio.requests.length = 0;
  twilio.messages.length = 0;
  ses.requests.length = 0;
  ses.messages.length = 0;
}

// Keeps the fakes' own arrays short between collections.
setInterval(drain, 1000).unref();

process.on('message', (msg) => {
  if (msg === 'collect') {
    drain();
    process.send?.(arrivals);
    arrivals = [];
  }
});
process.on('SIGTERM', () => {
  void Promise.all([twilio.stop(), ses.stop()]).then(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));

void Promise.all([twilio.start(), ses.start()]).then(() => process.send?.({ twilio: twilio.url, ses: ses.url }));
