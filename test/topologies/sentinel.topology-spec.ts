/**
 * The service behind Redis Sentinel (1 master, 2 replicas, 3 sentinels,
 * quorum 2): the built api and two workers run the full flow, then the
 * master is killed (SIGKILL) in the middle of a stream of device creations,
 * and the sentinels promote a replica.
 *
 * - Until the apps reach the new master the api answers OBD000097, never a 5xx.
 * - Then the same processes carry on by themselves.
 * - Every 202 is delivered, once; every delivered code approves its device.
 * - Every app's /health/ready says 503 within a few seconds of the kill and
 *   200 again after the fail-over.
 *
 * Figures (printed, not asserted): requests, 202s, refusals by code, slowest
 * answer, seconds until 202s resume, fail-over and readiness timings.
 */
import { Figures } from '../support/figures';
import { TOPOLOGY_STACK_ENV, fullFlow, keepOutput, killMasterDuringStream } from '../support/failover-stream';
import { Stack } from '../support/stack';
import { RedisSentinelSet } from '../support/topologies';

describe('Redis Sentinel: the master killed during a stream of creations', () => {
  const figures = new Figures('topologies', __filename);
  let sentinel: RedisSentinelSet | undefined;
  let stack: Stack | undefined;

  beforeAll(async () => {
    sentinel = await RedisSentinelSet.start({ replicas: 2, sentinels: 3, quorum: 2, downAfterMs: 1000, failoverTimeoutMs: 5000 });
    stack = await Stack.start({ label: 'sentinel', redisUrl: sentinel.url, topology: sentinel, env: TOPOLOGY_STACK_ENV });
    await stack.startWorker();
  }, 60_000);

  afterAll(async () => {
    figures.write();
    await stack?.stop();
    keepOutput(figures, stack);
    await sentinel?.stop();
  }, 60_000);

  it('runs the full flow: create, deliver, validate; resend, the new code validates', async () => {
    await fullFlow(stack!);
  }, 30_000);

  it('rides out the master killed: OBD000097 meanwhile, every 202 delivered once, readiness 503 then 200', async () => {
    const master = sentinel!.master;
    figures.set('topology', { master: 1, replicas: 2, sentinels: 3, quorum: 2, down_after_ms: 1000, killed: `${master.role} :${master.port}` });
    await killMasterDuringStream(stack!, figures, {
      kill: () => master.kill('SIGKILL'),
      failedOver: async () => figures.set('new_master', `:${(await sentinel!.failedOver(master)).port}`),
    });
  }, 120_000);
});
