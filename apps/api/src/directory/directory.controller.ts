/**
 * Internal admin API (ours): client integrations, accounts and approvers.
 * Used by ops tooling, the CLI and acceptance tests. Bearer admin token.
 */
import { Body, Controller, HttpCode, Param, Put, UseGuards } from '@nestjs/common';
import { ClientCache, DirectoryRepository } from '@lib/store';
import { AdminAuthGuard } from '../auth/admin-auth.guard';
import { ZodPipe } from '../http/zod-pipe';
import { AnyUuid, PutAccountBody, PutClientBody, UuidV4 } from './directory.schemas';

@Controller('internal')
@UseGuards(AdminAuthGuard)
export class DirectoryController {
  constructor(
    private readonly directory: DirectoryRepository,
    private readonly clients: ClientCache,
  ) {}

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
