/**
 * Traces through OpenTelemetry: one trace from the api's request through the
 * send job to the worker's call to Twilio or SES. On only when an OTLP
 * endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); otherwise the SDK is not even loaded,
 * no job carries trace context and no hook is added. Everything else comes
 * from the standard OTEL_* variables, read by the SDK itself (protocol,
 * headers, sampler, batching, resource). See docs/operations.md, "Tracing".
 *
 * The SDK must patch node:http before anything uses it, so each app's main.ts
 * starts tracing first (after the runtime tuning, which only sets flags).
 */
import { trace } from '@opentelemetry/api';
import type { Telemetry } from 'bullmq';
import type { RunningTracing } from './tracing-sdk';

let running: RunningTracing | undefined;

/** Whether the environment asks for traces: an OTLP endpoint, and neither the SDK nor the trace exporter turned off. */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!endpoint) return false;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((e) => e.trim().toLowerCase());
  return !exporters.includes('none');
}

/**
 * Starts the OpenTelemetry SDK if the environment asks for traces; the
 * service is named `defaultServiceName` unless OTEL_SERVICE_NAME (or
 * `service.name` in OTEL_RESOURCE_ATTRIBUTES) names it. Returns whether
 * tracing runs.
 */
export function startTracing(defaultServiceName: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (running) return true;
  if (!tracingRequested(env)) return false;
  // Loaded only here, so that a process without an endpoint never loads the SDK.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require('./tracing-sdk') as typeof import('./tracing-sdk');
  running = sdk.startSdk(defaultServiceName);
  return true;
}

/** Whether this process exports traces. */
export function tracingStarted(): boolean {
  return running !== undefined;
}

/** How long a shutdown waits for the collector to take the last spans. */
export const TRACING_STOP_DEADLINE_MS = 5_000;

/**
 * Sends the spans still buffered and stops the SDK (on shutdown), waiting
 * for the collector at most `deadlineMs`: an unreachable one must not hold
 * up a graceful stop. Nothing when tracing is off.
 */
export async function stopTracing(deadlineMs = TRACING_STOP_DEADLINE_MS): Promise<void> {
  const stopping = running;
  running = undefined;
  if (!stopping) return;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, deadlineMs);
  });
  try {
    await Promise.race([stopping.shutdown().catch(() => undefined), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * BullMQ's telemetry for a Queue or Worker (its `telemetry` option), or
 * undefined when tracing is off: a job then carries no trace context at all.
 */
export function queueTelemetry(): Telemetry | undefined {
  return running?.queueTelemetry;
}

/**
 * Names the request's server span after its route (`PATCH
 * /account/:account_key/device/:device_key/resend_token`) and records the
 * route as `http.route`, once the framework has matched it.
 */
export function nameRequestSpan(method: string, route: string | undefined): void {
  if (!route) return;
  const span = trace.getActiveSpan();
  if (!span) return;
  span.setAttribute('http.route', route);
  span.updateName(`${method} ${route}`);
}
