/**
 * Internal admin API (ours): client integrations, accounts and approvers.
 * Used by ops tooling, the CLI and acceptance tests. Bearer admin token.
 */
import { Body, Controller, HttpCode, Inject, Param, Put, UseGuards } from '@nestjs/common';
import type { ApiConfig } from '@lib/config';
import { DomainError, ErrorCodes, smsDestinationAllowed } from '@lib/domain';
import { ClientCache, DirectoryRepository } from '@lib/store';
import { APP_CONFIG } from '../infrastructure/tokens';
import { AdminAuthGuard } from '../auth/admin-auth.guard';
import { ZodPipe } from '../http/zod-pipe';
import { AnyUuid, PutAccountBody, PutClientBody, UuidV4 } from './directory.schemas';

@Controller('internal')
@UseGuards(AdminAuthGuard)
export class DirectoryController {
  private readonly smsCountryCodes: readonly string[];

  constructor(
    private readonly directory: DirectoryRepository,
    private readonly clients: ClientCache,
    @Inject(APP_CONFIG) config: ApiConfig,
  ) {
    this.smsCountryCodes = config.smsAllowedCountryCodes;
  }

  @Put('clients/:client_key')
  @HttpCode(200)
  async putClient(@Param('client_key', new ZodPipe(AnyUuid, 'client_key')) clientKey: string, @Body(new ZodPipe(PutClientBody, '')) body: PutClientBody) {
    await this.directory.putClient({ clientKey, name: body.name, publicKey: body.public_key });
    // Other api processes drop their copy on the change announcement; this one before answering.
    this.clients.forget(clientKey);
    return { client_key: clientKey, name: body.name };
  }

  @Put('accounts/:account_key')
  @HttpCode(200)
  async putAccount(@Param('account_key', new ZodPipe(UuidV4, 'account_key')) accountKey: string, @Body(new ZodPipe(PutAccountBody, '')) body: PutAccountBody) {
    // SMS only where the bank sends them (SMS_ALLOWED_COUNTRY_CODES), against SMS pumping.
    const foreign = body.approvers.flatMap((a, i) => (smsDestinationAllowed(a.phone_number, this.smsCountryCodes) ? [] : [i]));
    if (foreign.length > 0) {
      const allowed = this.smsCountryCodes.map((c) => `+${c}`).join(', ');
      throw new DomainError(ErrorCodes.schema, {
        errors: foreign.map((i) => ({ field: `approvers.${i}.phone_number`, reason: `must be a number in an allowed country calling code (${allowed})` })),
      });
    }
    await this.directory.putAccount({
      accountKey,
      clientKey: body.client_key,
      status: body.status,
      kind: body.kind,
      approvers: body.approvers,
    });
    return { account_key: accountKey, client_key: body.client_key, status: body.status, kind: body.kind, approvers: body.approvers.length };
  }
}
