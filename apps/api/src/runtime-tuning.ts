/**
 * Process-wide settings made before anything else runs (main.ts imports this
 * first; both take effect because nothing has used them yet):
 *
 * - libuv's thread pool is sized to the machine. Request signatures are
 *   verified there (jose's jwtVerify runs WebCrypto's verify as a thread-pool
 *   job), so the pool, not the event loop, bounds how many cores verify at
 *   once; libuv's default of 4 threads would leave cores idle on a larger
 *   machine. UV_THREADPOOL_SIZE set in the
 *   environment wins.
 * - V8's old generation may grow to at most twice the live heap between full
 *   collections (`--heap-growing-percent=100`). By default V8 lets it grow up
 *   to four times when allocation is fast, which a busy api is: its live heap
 *   is about 40 MB, yet it peaked near 250 MB RSS under load, mostly garbage
 *   (measured with `npm run bench`). A `--heap-growing-percent` given to node wins.
 * - V8's young generation stops growing at 16 MB per semi-space
 *   (YOUNG_GENERATION_SEMI_SPACE_MB). Node 24 lets it double up to 64 MB per
 *   semi-space (128 MB in all) under a fast allocation rate, which made up
 *   most of the process's peak RSS under load (`npm run bench`, case 4). The
 *   maximum can only be given at start-up (`--max-semi-space-size`, which the
 *   image sets in NODE_OPTIONS, and which wins when given); a process started
 *   without it stops the growth itself once the new space reaches that size,
 *   by setting V8's growth factor to 1 after the garbage collection that got
 *   it there (V8 reads that factor each time it grows the space).
 */
import { availableParallelism } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(Math.max(4, availableParallelism()));

const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => arg.includes('heap-growing-percent'));
if (!given) setFlagsFromString('--heap-growing-percent=100');

/** The young generation's semi-space size at which growth stops (see above). */
export const YOUNG_GENERATION_SEMI_SPACE_MB = 16;

if (![...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => arg.includes('semi-space-size'))) {
  const capBytes = 2 * YOUNG_GENERATION_SEMI_SPACE_MB * 2 ** 20; // the new space is two semi-spaces
  const gcs = new PerformanceObserver(() => {
    const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    if (!newSpace || newSpace.space_size < capBytes) return;
    setFlagsFromString('--semi-space-growth-factor=1');
    gcs.disconnect();
  });
  gcs.observe({ entryTypes: ['gc'] });
}
