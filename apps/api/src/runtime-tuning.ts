/**
 * Sizes libuv's thread pool to the machine before anything uses it. Request
 * signatures are verified there (see auth/compact-jws.ts), so the pool, not
 * the event loop, bounds how many cores verify at once; libuv's default of 4
 * threads would leave cores idle on a larger machine. UV_THREADPOOL_SIZE set
 * in the environment wins. Imported first by main.ts: the pool is created on
 * first use and keeps its size.
 */
import { availableParallelism } from 'node:os';

if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(Math.max(4, availableParallelism()));
