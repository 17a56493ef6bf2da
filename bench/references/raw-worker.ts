/**
 * Reference for case 2: a raw BullMQ worker, nothing but the queue and one
 * HTTP call per job to the same fake Twilio (so the same provider latency)
 * with the same concurrency. No token, no store, no SDK.
 */
import { Worker } from 'bullmq';
import Redis from 'ioredis';

const twilioUrl = process.env.TWILIO_API_URL!;
const sid = process.env.TWILIO_ACCOUNT_SID!;
const auth = `Basic ${Buffer.from(`${sid}:${process.env.TWILIO_AUTH_TOKEN}`).toString('base64')}`;
const concurrency = Number(process.env.WORKER_CONCURRENCY ?? 10);
const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });

const worker = new Worker<{ to: string }>(
  process.env.QUEUE_NAME ?? 'raw-dispatch',
  async (job) => {
    const res = await fetch(`${twilioUrl}/2010-04-01/Accounts/${sid}/Messages.json`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ To: job.data.to, From: '+15005550006', Body: 'Seu código é 123456' }).toString(),
    });
    if (res.status >= 400) throw new Error(`provider answered ${res.status}`);
    await res.arrayBuffer();
  },
  { connection, prefix: process.env.QUEUE_PREFIX ?? 'bench-raw:bull', concurrency },
);
worker.on('error', () => undefined);
void worker.waitUntilReady().then(() => console.log(`consuming with concurrency ${concurrency}`));
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
