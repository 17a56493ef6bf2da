/** The API application: device endpoints, the internal directory, and their wiring. */
import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { ApiConfig } from '@lib/config';
import { AdminAuthGuard } from './auth/admin-auth.guard';
import { ClientAuthGuard } from './auth/client-auth.guard';
import { RequestVerifier } from './auth/request-verifier';
import { BoardModule } from './board/board.module';
import { AccountAccess } from './device/account-access';
import { CreateDeviceUseCase } from './device/create-device.use-case';
import { DeviceController } from './device/device.controller';
import { DisableDeviceUseCase } from './device/disable-device.use-case';
import { QueryDeviceUseCase } from './device/query-device.use-case';
import { ResendTokenUseCase } from './device/resend-token.use-case';
import { TokenSender } from './device/token-sender';
import { ValidateTokenUseCase } from './device/validate-token.use-case';
import { DirectoryController } from './directory/directory.controller';
import { ErrorEnvelopeFilter } from './http/error-envelope.filter';
import { InfrastructureModule } from './infrastructure/infrastructure.module';
import { ApiObservabilityModule } from './observability/api-observability.module';
import { ReceiptsModule } from './receipts/receipts.module';

@Module({})
export class ApiModule {
  static forRoot(config: ApiConfig): DynamicModule {
    return {
      module: ApiModule,
      imports: [InfrastructureModule.forRoot(config), ApiObservabilityModule.forRoot(config), BoardModule, ReceiptsModule],
      controllers: [DeviceController, DirectoryController],
      providers: [
        { provide: APP_FILTER, useClass: ErrorEnvelopeFilter },
        RequestVerifier,
        ClientAuthGuard,
        AdminAuthGuard,
        AccountAccess,
        TokenSender,
        CreateDeviceUseCase,
        ResendTokenUseCase,
        ValidateTokenUseCase,
        QueryDeviceUseCase,
        DisableDeviceUseCase,
      ],
    };
  }
}
