/** Protects the internal admin API with a bearer token, compared in constant time. */
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { ApiConfig } from '@lib/config';
import { DomainError, ErrorCodes, secretDigest, secretEquals } from '@lib/domain';
import { APP_CONFIG } from '../infrastructure/tokens';

@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(@Inject(APP_CONFIG) config: ApiConfig) {
    this.expected = secretDigest(config.adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const value = req.headers.authorization;
    const token = typeof value === 'string' && value.startsWith('Bearer ') ? value.slice(7) : '';
    if (!token || !secretEquals(this.expected, token)) throw new DomainError(ErrorCodes.adminUnauthorized);
    return true;
  }
}
