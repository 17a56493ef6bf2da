/** Protects the internal admin API with a bearer token, compared in constant time. */
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AppConfig } from '@lib/config';
import { DomainError, ErrorCodes } from '@lib/domain';
import { APP_CONFIG } from '../infrastructure/tokens';

const digest = (value: string) => createHash('sha256').update(value).digest();

export function secretEquals(expectedDigest: Buffer, candidate: string): boolean {
  // Comparing fixed-length digests keeps the comparison constant-time and
  // does not reveal the secret's length.
  return timingSafeEqual(expectedDigest, digest(candidate));
}

@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.expected = digest(config.adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const value = req.headers.authorization;
    const token = typeof value === 'string' && value.startsWith('Bearer ') ? value.slice(7) : '';
    if (!token || !secretEquals(this.expected, token)) throw new DomainError(ErrorCodes.adminUnauthorized);
    return true;
  }
}
