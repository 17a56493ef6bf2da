/** Counts failed token validations (wrong, locked, expired) on the route it decorates. */
import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { catchError, throwError, type Observable } from 'rxjs';
import { ApiMetrics } from './api-metrics';

@Injectable()
export class ValidationMetricsInterceptor implements NestInterceptor {
  constructor(private readonly metrics: ApiMetrics) {}

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((err: unknown) => {
        this.metrics.validationFailed(err);
        return throwError(() => err);
      }),
    );
  }
}
