/**
 * Who may open the queue dashboard, and with which rights: the full-access
 * basic-auth user and the admin bearer token get full access, the read-only
 * basic-auth user gets a read-only view. Secrets are kept as digests and
 * compared in constant time. A grant also says which scheme it came by: a
 * browser caches Basic credentials and attaches them by itself, even to
 * requests another site's page makes, but never a bearer token.
 */
import type { ApiConfig } from '@lib/config';
import { secretDigest, secretEquals } from '@lib/domain';

export type BoardAccess = 'full' | 'read-only';

export interface BoardGrant {
  access: BoardAccess;
  scheme: 'basic' | 'bearer';
}

interface DigestedUser {
  username: Buffer;
  password: Buffer;
}

const digested = (user?: { username: string; password: string }): DigestedUser | undefined =>
  user && { username: secretDigest(user.username), password: secretDigest(user.password) };

export class BoardCredentials {
  private readonly adminToken: Buffer;
  private readonly full?: DigestedUser;
  private readonly readOnly?: DigestedUser;

  constructor(config: Pick<ApiConfig, 'adminToken' | 'board'>) {
    this.adminToken = secretDigest(config.adminToken);
    this.full = digested(config.board.full);
    this.readOnly = digested(config.board.readOnly);
  }

  /** What an `Authorization` header grants, or undefined for nothing (missing, malformed or wrong). */
  grantFor(authorization: string | undefined): BoardGrant | undefined {
    if (typeof authorization !== 'string') return undefined;
    const [scheme, value = ''] = authorization.trim().split(/\s+/, 2);
    switch (scheme.toLowerCase()) {
      case 'bearer':
        return value !== '' && secretEquals(this.adminToken, value) ? { access: 'full', scheme: 'bearer' } : undefined;
      case 'basic': {
        const access = this.basic(value);
        return access && { access, scheme: 'basic' };
      }
      default:
        return undefined;
    }
  }

  private basic(encoded: string): BoardAccess | undefined {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return undefined;
    const username = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    // Both users are always compared, so the time taken says nothing about
    // which of them (if any) the username belongs to.
    const full = matches(this.full, username, password);
    const readOnly = matches(this.readOnly, username, password);
    if (full) return 'full';
    if (readOnly) return 'read-only';
    return undefined;
  }
}

function matches(user: DigestedUser | undefined, username: string, password: string): boolean {
  if (!user) return false;
  const nameOk = secretEquals(user.username, username);
  const passwordOk = secretEquals(user.password, password);
  return nameOk && passwordOk;
}
