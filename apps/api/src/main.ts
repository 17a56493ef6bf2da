import './runtime-tuning';
import './tracing';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfigOrExit } from '@lib/config';
import { startApi } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfigOrExit(process.env, 'api');
  const app = await startApi(config);
  new Logger('Api').log(`listening on ${await app.getUrl()}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`api failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
