/**
 * Who may open the queue dashboard, and with which rights: the full-access
 * basic-auth user and the admin bearer token get full access, the read-only
 * basic-auth user gets a read-only view. Secrets are kept as digests and
 * compared in constant time.
 */
import type { AppConfig } from '@lib/config';
import { secretDigest, secretEquals } from '@lib/domain';

export type BoardAccess = 'full' | 'read-only';

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

  constructor(config: Pick<AppConfig, 'adminToken' | 'board'>) {
    this.adminToken = secretDigest(config.adminToken);
    this.full = digested(config.board.full);
    this.readOnly = digested(config.board.readOnly);
  }

  /** The access an `Authorization` header grants, or undefined for none (missing, malformed or wrong). */
  accessFor(authorization: string | undefined): BoardAccess | undefined {
    if (typeof authorization !== 'string') return undefined;
    const [scheme, value = ''] = authorization.trim().split(/\s+/, 2);
    switch (scheme.toLowerCase()) {
      case 'bearer':
        return value !== '' && secretEquals(this.adminToken, value) ? 'full' : undefined;
      case 'basic':
        return this.basic(value);
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
