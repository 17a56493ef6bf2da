import { context, trace, type Context } from '@opentelemetry/api';
import type { Span, SpanOptions, Tracer } from 'bullmq';
import { BullMQOTelSpan } from 'bullmq-otel';
import { incomingSpanAttributes, outgoingSpanAttributes, outgoingUrl, withoutQuery } from './span-hygiene';
import { queueTelemetry, startTracing, tracingRequested, tracingStarted } from './tracing';
import { TracesOnlyTracer } from './tracing-sdk';

describe('tracingRequested', () => {
  it('is off without an OTLP endpoint, whatever else is set', () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBe(false);
  });

  it('is on with the general or the traces endpoint', () => {
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
  });

  it('stays off when the SDK or the trace exporter is turned off', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(tracingRequested({ ...endpoint, OTEL_SDK_DISABLED: 'TRUE' })).toBe(false);
    expect(tracingRequested({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
    expect(tracingRequested({ ...endpoint, OTEL_SDK_DISABLED: 'false', OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
  });
});

describe('startTracing without an endpoint', () => {
  it('starts nothing, and BullMQ gets no telemetry', () => {
    expect(startTracing('device-2fa-test', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toBe(false);
    expect(tracingStarted()).toBe(false);
    expect(queueTelemetry()).toBeUndefined();
  });
});

describe('span hygiene', () => {
  it('records an outgoing URL without its query string, fragment or credentials', () => {
    expect(
      outgoingUrl({ protocol: 'https:', hostname: 'api.twilio.com', port: 443, path: '/2010-04-01/Accounts/AC1/Messages.json?To=%2B5511999990000#x' }),
    ).toBe('https://api.twilio.com:443/2010-04-01/Accounts/AC1/Messages.json');
    expect(outgoingSpanAttributes({ protocol: 'http:', host: '127.0.0.1', port: 4010, path: '/v2/email/outbound-emails', auth: 'user:secret' })).toEqual({
      'url.full': 'http://127.0.0.1:4010/v2/email/outbound-emails',
    });
    expect(withoutQuery('/a/b')).toBe('/a/b');
  });

  it("drops an incoming request's query string", () => {
    expect(incomingSpanAttributes()).toEqual({ 'url.query': undefined });
  });
});

describe('TracesOnlyTracer', () => {
  const started: string[] = [];
  const inner: Tracer<Context> = {
    startSpan(name: string): Span<Context> {
      started.push(name);
      return new BullMQOTelSpan(trace.wrapSpanContext({ traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 1 }));
    },
  };
  const tracer = new TracesOnlyTracer(inner);
  const INTERNAL: SpanOptions = { kind: 0 };
  const CONSUMER: SpanOptions = { kind: 4 };

  beforeEach(() => {
    started.length = 0;
  });

  it('records no internal operation outside a trace (an idle poll, a stalled-job check)', () => {
    const span = tracer.startSpan('getNextJob token-dispatch-sms', INTERNAL);
    expect(started).toEqual([]);
    expect((span as BullMQOTelSpan).span.isRecording()).toBe(false);
  });

  it('records internal operations within a trace, and a job processed outside one', () => {
    const parent = trace.setSpan(context.active(), trace.wrapSpanContext({ traceId: '3'.repeat(32), spanId: '4'.repeat(16), traceFlags: 1 }));
    tracer.startSpan('complete token-dispatch-sms', INTERNAL, parent);
    tracer.startSpan('process token-dispatch-sms', CONSUMER);
    expect(started).toEqual(['complete token-dispatch-sms', 'process token-dispatch-sms']);
  });
});
