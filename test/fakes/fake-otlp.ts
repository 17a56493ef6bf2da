/**
 * A fake OpenTelemetry collector: an OTLP/HTTP receiver taking JSON
 * (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`) on POST /v1/traces. It keeps
 * every export as it came (to scan the raw text) and every span flattened
 * with its service's name, and lets a test wait for spans (events, not
 * sleeps).
 */
import { FakeHttpServer, type FakeResponse, type FakeServerOptions, type RecordedRequest } from './fake-http-server';

/** OTLP's span kinds (SpanKind in the protocol: one more than the API's). */
export const OTLP_SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number; arrayValue?: { values?: OtlpValue[] } };
type OtlpAttribute = { key: string; value: OtlpValue };

/** One exported span, its attributes as plain values. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

const plain = (v: OtlpValue): unknown =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue ?? v.doubleValue ?? v.arrayValue?.values?.map(plain);

const attributesOf = (list: OtlpAttribute[] | undefined): Record<string, unknown> => Object.fromEntries((list ?? []).map((a) => [a.key, plain(a.value)]));

export class FakeOtlpCollector extends FakeHttpServer<ReceivedSpan> {
  constructor(options: FakeServerOptions = {}) {
    super(options);
  }

  /** Every span received so far. */
  get spans(): ReceivedSpan[] {
    return this.messages;
  }

  /** Resolves with the spans once `done(spans)` holds for those received; rejects after `timeoutMs`. */
  waitForSpans(done: (spans: ReceivedSpan[]) => boolean, timeoutMs = 10_000): Promise<ReceivedSpan[]> {
    if (done(this.spans)) return Promise.resolve([...this.spans]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`FakeOtlpCollector: still waiting after ${timeoutMs} ms; received ${this.spans.map((s) => `${s.service} ${s.name}`).join(', ')}`));
      }, timeoutMs);
      const unsubscribe = this.onMessage(() => {
        if (!done(this.spans)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve([...this.spans]);
      });
    });
  }

  protected handle(request: RecordedRequest): FakeResponse {
    if (request.method !== 'POST' || request.path !== '/v1/traces') return { status: 404, body: {} };
    if (typeof request.body !== 'object' || request.body === null) return { status: 400, body: { message: 'expected OTLP JSON' } };
    const { resourceSpans } = request.body as {
      resourceSpans?: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[];
    };
    for (const rs of resourceSpans ?? []) {
      const service = String(attributesOf(rs.resource?.attributes)['service.name']);
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.deliver({
            service,
            traceId: String(s.traceId),
            spanId: String(s.spanId),
            parentSpanId: typeof s.parentSpanId === 'string' ? s.parentSpanId : '',
            name: String(s.name),
            kind: Number(s.kind),
            attributes: attributesOf(s.attributes as OtlpAttribute[] | undefined),
          });
        }
      }
    }
    return { status: 200, body: {} };
  }
}
