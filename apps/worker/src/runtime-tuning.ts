/**
 * Process-wide settings made before anything else runs (main.ts imports this
 * first):
 *
 * - V8's old generation may grow to at most one and a half times the live heap between
 *   full collections (`--heap-growing-percent=50`): by default V8 lets it
 *   grow up to four times when allocation is fast, and a worker sending
 *   hundreds of messages a second allocates fast; its live heap is about
 *   40 MB, yet it peaked near 270 MB RSS at concurrency 200, mostly garbage
 *   (measured with `npm run bench`). A `--heap-growing-percent` given to
 *   node wins.
 * - V8's young generation is not sized here: its maximum can only be given
 *   at start-up, so the image (`NODE_OPTIONS`) and `npm run start:*` give
 *   `--max-semi-space-size=8` (docs/operations.md, "Deploy").
 */
import { setFlagsFromString } from 'node:v8';

const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => arg.includes('heap-growing-percent'));
if (!given) setFlagsFromString('--heap-growing-percent=50');
