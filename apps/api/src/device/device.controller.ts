/** The five device endpoints of the contract. Thin: parse, authenticate, delegate. */
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Req, UseGuards, UseInterceptors } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ClientAuthGuard, ClientKey } from '../auth/client-auth.guard';
import { SendsToken } from '../http/sends-token';
import { ZodPipe } from '../http/zod-pipe';
import { ValidationMetricsInterceptor } from '../observability/validation-metrics.interceptor';
import { CreateDeviceUseCase } from './create-device.use-case';
import { CreateDeviceBody, ResendTokenBody, UuidV4, ValidateTokenBody } from './device.schemas';
import { DisableDeviceUseCase } from './disable-device.use-case';
import { QueryDeviceUseCase } from './query-device.use-case';
import { ResendTokenUseCase } from './resend-token.use-case';
import { ValidateTokenUseCase } from './validate-token.use-case';

const AccountKey = () => Param('account_key', new ZodPipe(UuidV4, 'account_key'));
const DeviceKey = () => Param('device_key', new ZodPipe(UuidV4, 'device_key'));

@Controller('account/:account_key/device')
@UseGuards(ClientAuthGuard)
export class DeviceController {
  constructor(
    private readonly createDevice: CreateDeviceUseCase,
    private readonly resendToken: ResendTokenUseCase,
    private readonly validateToken: ValidateTokenUseCase,
    private readonly queryDevice: QueryDeviceUseCase,
    private readonly disableDevice: DisableDeviceUseCase,
  ) {}

  @Post()
  @HttpCode(202)
  @SendsToken()
  create(
    @ClientKey() clientKey: string,
    @AccountKey() accountKey: string,
    @Body(new ZodPipe(CreateDeviceBody, '')) body: CreateDeviceBody,
    @Req() req: FastifyRequest,
  ) {
    return this.createDevice.execute({ clientKey, accountKey, body, requestId: req.id });
  }

  @Patch(':device_key/resend_token')
  @HttpCode(202)
  @SendsToken({ readsDevice: true })
  resend(
    @ClientKey() clientKey: string,
    @AccountKey() accountKey: string,
    @DeviceKey() deviceKey: string,
    @Body(new ZodPipe(ResendTokenBody, '')) body: ResendTokenBody,
    @Req() req: FastifyRequest,
  ) {
    return this.resendToken.execute({ clientKey, accountKey, deviceKey, contactType: body.contact_type, requestId: req.id, read: req.authReads });
  }

  @Put(':device_key/validate')
  @HttpCode(201)
  @UseInterceptors(ValidationMetricsInterceptor)
  validate(
    @ClientKey() clientKey: string,
    @AccountKey() accountKey: string,
    @DeviceKey() deviceKey: string,
    @Body(new ZodPipe(ValidateTokenBody, '')) body: ValidateTokenBody,
  ) {
    return this.validateToken.execute({ clientKey, accountKey, deviceKey, token: body.token });
  }

  @Get(':device_key')
  query(@ClientKey() clientKey: string, @AccountKey() accountKey: string, @DeviceKey() deviceKey: string) {
    return this.queryDevice.execute({ clientKey, accountKey, deviceKey });
  }

  @Delete(':device_key/disable')
  @HttpCode(200)
  disable(@ClientKey() clientKey: string, @AccountKey() accountKey: string, @DeviceKey() deviceKey: string) {
    return this.disableDevice.execute({ clientKey, accountKey, deviceKey });
  }
}
