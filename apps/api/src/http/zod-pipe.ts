/**
 * Validates a body or path parameter against a zod schema; a failure becomes
 * QIT000001 with `extra_fields.errors` naming each field (`body` for the body
 * as a whole) and why.
 */
import { type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { DomainError, ErrorCodes } from '@lib/domain';

export class ZodPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(
    private readonly schema: S,
    private readonly location: string,
  ) {}

  transform(value: unknown): z.infer<S> {
    const result = this.schema.safeParse(value);
    if (result.success) return result.data;
    throw new DomainError(ErrorCodes.schema, {
      errors: result.error.issues.slice(0, 10).map((issue) => ({
        field: [this.location, ...issue.path.map(String)].filter(Boolean).join('.') || 'body',
        reason: issue.message,
      })),
    });
  }
}
