/**
 * The checks every device endpoint makes on the account, in the contract's
 * order: it exists and belongs to the caller (OBD000002, the same answer for
 * both, so a client cannot probe other clients' accounts), it is active
 * (OBD000088), and it is not a hub account (OBD000089).
 */
import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCodes } from '@lib/domain';
import { DirectoryRepository, type Account } from '@lib/store';

@Injectable()
export class AccountAccess {
  constructor(private readonly directory: DirectoryRepository) {}

  async require(clientKey: string, accountKey: string): Promise<Account> {
    const account = await this.directory.getAccount(accountKey);
    return checkAccount(account, clientKey);
  }
}

export function checkAccount(account: Account | undefined, clientKey: string): Account {
  if (!account || account.clientKey !== clientKey) throw new DomainError(ErrorCodes.accountNotFound);
  if (account.status !== 'active') throw new DomainError(ErrorCodes.accountInactive, { account_status: account.status });
  if (account.kind === 'hub') throw new DomainError(ErrorCodes.hubAccount);
  return account;
}
