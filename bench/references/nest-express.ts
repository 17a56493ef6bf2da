/**
 * Reference for case 1b, "what most teams would build first": NestJS on its
 * default Express adapter, a resend route that answers 202 and does nothing
 * else (no Redis, no authentication).
 */
import 'reflect-metadata';
import { Body, Controller, HttpCode, Module, Param, Patch } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

@Controller('account/:account_key/device')
class ResendController {
  @Patch(':device_key/resend_token')
  @HttpCode(202)
  resend(@Param('device_key') deviceKey: string, @Body() _body: unknown) {
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
