/**
 * Reference for case 1b, "what most teams would build first": NestJS on its
 * default Express adapter, a resend route answering 202. As the issue words
 * it, the route does nothing else (no Redis, no authentication); with
 * QUEUE_ADD=1 it also calls BullMQ queue.add as the floor does, which is the
 * like-for-like naive build.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Body, Controller, HttpCode, Module, Param, Patch } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Queue } from 'bullmq';
import { createRedis } from '@lib/store';
import { DISPATCH_QUEUES, DispatchJobName, dispatchJobOptions } from '@lib/dispatch-contract';
import { DEFAULT_DATA_LIFETIMES } from '@lib/domain';

const queue =
  process.env.QUEUE_ADD === '1'
    ? new Queue(DISPATCH_QUEUES.sms, {
        connection: createRedis('command', { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', commandTimeoutMs: 500 }, 'bench-nest-express'),
        prefix: process.env.QUEUE_PREFIX ?? 'bench-express:bull',
      })
    : undefined;
queue?.on('error', () => undefined);
const retry = { attempts: 6, backoffMs: 1000 };

@Controller('account/:account_key/device')
class ResendController {
  @Patch(':device_key/resend_token')
  @HttpCode(202)
  async resend(@Param('account_key') accountKey: string, @Param('device_key') deviceKey: string, @Body() body: { contact_type?: 'sms' | 'email' }) {
    if (queue) {
      const dispatchId = randomUUID();
      await queue.add(
        DispatchJobName.sendToken,
        { dispatchId, accountKey, deviceKey, channel: body?.contact_type ?? 'sms', requestId: dispatchId },
        { ...dispatchJobOptions(retry, DEFAULT_DATA_LIFETIMES), jobId: dispatchId },
      );
    }
    return { device_key: deviceKey, device_status: 'pending_2fa_approval', created_at: new Date().toISOString() };
  }
}

@Module({ controllers: [ResendController] })
class ReferenceModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(ReferenceModule, { logger: false });
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  console.log(`listening on ${process.env.PORT}`);
}
void main();
