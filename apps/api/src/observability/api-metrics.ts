/**
 * The api's Prometheus metrics: HTTP traffic by route pattern (one histogram:
 * its `_count` is the request count), send-limit refusals, coalesced requests
 * and token validation failures. The send queues' depth is the worker's to
 * export (shared state, exported once). Labels are bounded sets (route
 * patterns, never paths), so no key, phone number or e-mail address can
 * become a label value.
 */
import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { DomainError, ErrorCodes } from '@lib/domain';
import { METRIC_PREFIX, MetricsRegistry } from '@lib/observability';
import type { DispatchRequestResult } from '@lib/store';

const HTTP_LABELS = ['method', 'route', 'status_code'] as const;
export const GUESS_LIMITS = ['per_approver', 'per_account', 'device_creations_per_account'] as const;
export type GuessLimit = (typeof GUESS_LIMITS)[number];
const VALIDATION_FAILURES: Partial<Record<string, 'incorrect' | 'locked' | 'expired'>> = {
  [ErrorCodes.incorrectToken]: 'incorrect',
  [ErrorCodes.attemptsExceeded]: 'locked',
  [ErrorCodes.tokenExpired]: 'expired',
};

@Injectable()
export class ApiMetrics {
  private readonly httpDuration: Histogram<(typeof HTTP_LABELS)[number]>;
  private readonly sendLimitRejections: Counter<'limit'>;
  private readonly coalesced: Counter;
  private readonly validationFailures: Counter<'outcome'>;
  private readonly guessLimitRejections: Counter<'limit'>;

  constructor(registry: MetricsRegistry) {
    const registers = [registry];
    this.httpDuration = new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: 'Time to answer an HTTP request, by method, route pattern and status code.',
      labelNames: HTTP_LABELS,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.sendLimitRejections = new Counter({
      name: `${METRIC_PREFIX}send_limit_rejections_total`,
      help: 'Token send requests refused by a send limit (429 DTS000004), by limit.',
      labelNames: ['limit'] as const,
      registers,
    });
    this.coalesced = new Counter({
      name: `${METRIC_PREFIX}send_requests_coalesced_total`,
      help: 'Token send requests that joined a send already requested inside the coalescing window.',
      registers,
    });
    this.validationFailures = new Counter({
      name: `${METRIC_PREFIX}token_validation_failures_total`,
      help: 'Token validations that failed, by outcome: incorrect token, device locked, token expired or not sent yet.',
      labelNames: ['outcome'] as const,
      registers,
    });
    this.guessLimitRejections = new Counter({
      name: `${METRIC_PREFIX}guess_limit_rejections_total`,
      help: 'Requests refused by a guess budget (429 DTS000013 / DTS000014), by limit: failed validations per approver or per account, new devices per account.',
      labelNames: ['limit'] as const,
      registers,
    });
    for (const limit of GUESS_LIMITS) this.guessLimitRejections.inc({ limit }, 0);
    for (const limit of ['per_device', 'per_destination']) this.sendLimitRejections.inc({ limit }, 0);
    for (const outcome of ['incorrect', 'locked', 'expired']) this.validationFailures.inc({ outcome }, 0);
  }

  httpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    const labels = { method, route, status_code: String(statusCode) };
    this.httpDuration.observe(labels, seconds);
  }

  /** The outcome of the send-request script (coalescing and caps). */
  sendRequested(outcome: DispatchRequestResult['outcome']): void {
    if (outcome === 'coalesced') this.coalesced.inc();
    else if (outcome === 'device_cap') this.sendLimitRejections.inc({ limit: 'per_device' });
    else if (outcome === 'destination_cap') this.sendLimitRejections.inc({ limit: 'per_destination' });
    else if (outcome === 'creation_cap') this.guessLimitHit('device_creations_per_account');
  }

  guessLimitHit(limit: GuessLimit): void {
    this.guessLimitRejections.inc({ limit });
  }

  /** Counts `err` if it is a failed validation (wrong token, locked device, expired token). */
  validationFailed(err: unknown): void {
    const outcome = err instanceof DomainError ? VALIDATION_FAILURES[err.code] : undefined;
    if (outcome) this.validationFailures.inc({ outcome });
  }
}
