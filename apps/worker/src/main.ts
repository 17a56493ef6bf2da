import './runtime-tuning';
import './tracing';
import 'reflect-metadata';
import { loadConfigOrExit } from '@lib/config';
import { startWorker } from './bootstrap';

startWorker(loadConfigOrExit(process.env, 'worker')).catch((err: unknown) => {
  process.stderr.write(`worker failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
