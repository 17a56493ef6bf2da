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
 * - V8's old generation may grow to at most one and a half times the live heap between full
 *   collections (`--heap-growing-percent=50`). By default V8 lets it grow up
 *   to four times when allocation is fast, which a busy api is: its live heap
 *   is about 40 MB, yet it peaked near 250 MB RSS under load, mostly garbage
 *   (measured with `npm run bench`). A `--heap-growing-percent` given to node wins.
 * - V8's young generation is not sized here: its maximum can only be given
 *   at start-up, so the image (`NODE_OPTIONS`) and `npm run start:*` give
 *   `--max-semi-space-size=8` (docs/operations.md, "Deploy").
 */
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';

if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(Math.max(4, availableParallelism()));

const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => arg.includes('heap-growing-percent'));
if (!given) setFlagsFromString('--heap-growing-percent=50');
