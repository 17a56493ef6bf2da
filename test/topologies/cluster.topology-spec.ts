/**
 * The service on a real Redis Cluster (3 masters, 3 replicas; every key of
 * the service in one slot, the prefix being a hash tag): the built api and
 * two workers run the full flow, then the master serving the service's slot
 * is killed (SIGKILL) in the middle of a stream of device creations.
 *
 * - While the slot has no master the api answers OBD000097, never a 5xx.
 * - Once a replica has taken over, the same processes carry on by themselves.
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
import { RedisClusterSet, type RedisProcess } from '../support/topologies';

describe('Redis Cluster: the master of the service slot killed during a stream of creations', () => {
  const figures = new Figures('topologies', __filename);
  let cluster: RedisClusterSet | undefined;
  let stack: Stack | undefined;

  beforeAll(async () => {
    cluster = await RedisClusterSet.start({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
    stack = await Stack.start({ label: 'cluster', topology: cluster, env: TOPOLOGY_STACK_ENV });
    await stack.startWorker();
  }, 60_000);

  afterAll(async () => {
    figures.write();
    await stack?.stop();
    keepOutput(figures, stack);
    await cluster?.stop();
  }, 60_000);

  it('runs the full flow: create, deliver, validate; resend, the new code validates', async () => {
    await fullFlow(stack!);
  }, 30_000);

  it('rides out the slot master killed: OBD000097 meanwhile, every 202 delivered once, readiness 503 then 200', async () => {
    const slotKey = stack!.keys.pendingDispatches;
    const master: RedisProcess = (await cluster!.masterOf(slotKey))!;
    expect(master.running).toBe(true);
    figures.set('topology', { masters: 3, replicas: 3, cluster_node_timeout_ms: 1000, killed: `${master.role} :${master.port}` });
    await killMasterDuringStream(stack!, figures, {
      kill: () => master.kill('SIGKILL'),
      failedOver: async () => figures.set('new_master', `:${(await cluster!.failedOver(slotKey, master)).port}`),
    });
  }, 120_000);
});
