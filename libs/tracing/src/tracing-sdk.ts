/**
 * The OpenTelemetry SDK as this service runs it, loaded only when tracing is
 * on (tracing.ts). NodeSDK reads the standard OTEL_* variables: the OTLP
 * exporter and its protocol (http/protobuf by default, http/json, grpc),
 * endpoint and headers, the sampler (OTEL_TRACES_SAMPLER), the batch
 * processor's timings (OTEL_BSP_*) and the resource. Traces only: metrics are
 * Prometheus's (/metrics) and logs are the JSON lines on stdout.
 *
 * Instrumented: node:http and node:https (the api's incoming requests, the
 * worker's requests to Twilio and SES, both of which go through node:http(s):
 * libs/notifications' keep-alive client and the AWS SDK's NodeHttpHandler),
 * and BullMQ through its own telemetry interface (bullmq-otel), which carries
 * the W3C trace context in the job's options (`opts.telemetry.metadata`),
 * never in its data. Redis commands are not traced.
 */
import { INVALID_SPAN_CONTEXT, context, trace, type Context } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { IncomingMessage } from 'node:http';
import type { ContextManager, Span, SpanOptions, Telemetry, Tracer } from 'bullmq';
import { BullMQOTelSpan, BullMQOtel } from 'bullmq-otel';
import { incomingSpanAttributes, outgoingSpanAttributes } from './span-hygiene';

export interface RunningTracing {
  readonly queueTelemetry: Telemetry;
  shutdown(): Promise<void>;
}

/** Probes and scrapes: frequent, and nothing to follow. */
const OPS_PATH = /^\/(?:health(?:\/|$|\?)|metrics(?:$|\?))/;

/** BullMQ's span kind for its internal operations (its SpanKind enum mirrors OpenTelemetry's). */
const INTERNAL = 0;

/**
 * BullMQ's tracer, but its housekeeping outside any trace (a worker's idle
 * polls for the next job, lock renewals, stalled-job checks, all periodic)
 * starts no trace of its own: those spans are not recorded. Everything in a
 * trace (a job's add, its processing, a queue operation made by a request) is.
 */
export class TracesOnlyTracer implements Tracer<Context> {
  constructor(private readonly inner: Tracer<Context>) {}

  startSpan(name: string, options?: SpanOptions, parent?: Context): Span<Context> {
    if (options?.kind === INTERNAL && !trace.getSpan(parent ?? context.active())) {
      return new BullMQOTelSpan(trace.wrapSpanContext(INVALID_SPAN_CONTEXT));
    }
    return this.inner.startSpan(name, options, parent);
  }
}

class QueueTelemetry implements Telemetry<Context> {
  readonly tracer: Tracer<Context>;
  readonly contextManager: ContextManager<Context>;

  constructor(otel: BullMQOtel) {
    this.tracer = new TracesOnlyTracer(otel.tracer);
    this.contextManager = otel.contextManager;
  }
}

export function startSdk(defaultServiceName: string): RunningTracing {
  const env = process.env;
  const named = Boolean(env.OTEL_SERVICE_NAME?.trim()) || /(?:^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    serviceName: named ? undefined : defaultServiceName,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req: IncomingMessage) => OPS_PATH.test(req.url ?? ''),
        // An outgoing request outside any trace (none is expected) starts none.
        requireParentforOutgoingSpans: true,
        startIncomingSpanHook: incomingSpanAttributes,
        startOutgoingSpanHook: outgoingSpanAttributes,
      }),
    ],
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return { queueTelemetry: new QueueTelemetry(new BullMQOtel({ tracerName: 'bullmq' })), shutdown: () => sdk.shutdown() };
}
