/**
 * The OpenAPI 3.1 document of the API, built from the code:
 *  - routes (method, path, success status) from the controllers' own Nest
 *    metadata, so a route cannot change without the document following;
 *  - request bodies and path parameters from the zod schemas the handlers
 *    validate with (`z.toJSONSchema`, input side), never copied by hand;
 *  - every error response from ERROR_CATALOG, examples built by envelopeFor;
 *  - the rest (summaries, examples, which codes a route answers) from the
 *    route table in route-docs.ts.
 *
 * Why a route table rather than @nestjs/swagger decorators on the handlers:
 * the error lists, examples and texts would double the controllers' length,
 * and the decorators cannot take zod schemas or the catalog anyway. A route
 * of a documented controller without an entry, or an entry without a route,
 * fails the build of the document (and its test).
 *
 * Pure: no application, no Redis. The api serves it at /docs (docs.setup.ts);
 * `npm run openapi` writes it to openapi.json, which a test keeps in step.
 */
import { Controller, Get, HttpCode, RequestMethod, type Type } from '@nestjs/common';
import type { OpenAPIObject, OperationObject, ParameterObject, PathsObject, ResponsesObject, SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';
import { ERROR_CATALOG, envelopeFor, type ErrorCode } from '@lib/domain';
import { ErrorEnvelopeSchema } from './response.schemas';
import { EXAMPLE_EXTRA_FIELDS, PATH_PARAMS, ROUTE_DOCS, TAGS, type NamedSchema, type RouteDoc, type SecurityKind } from './route-docs';

export interface RouteInfo {
  controller: Type<unknown>;
  handler: string;
  method: string;
  /** OpenAPI form: `/account/{account_key}/device`. */
  path: string;
  status: number;
}

/**
 * The metadata keys Nest's route decorators write, learnt from the public
 * decorators themselves: each applied once to a probe, the key is the one
 * holding the probe's value. Nest's own constants are not public API.
 */
const NEST_KEYS = (() => {
  const keyHolding = (target: object, value: unknown) => {
    const key = Reflect.getMetadataKeys(target).find((k) => Reflect.getMetadata(k, target) === value);
    if (key === undefined) throw new Error(`no Nest metadata key holds ${String(value)}`);
    return key as string;
  };
  class Probe {
    handler(): void {}
  }
  const descriptor = Object.getOwnPropertyDescriptor(Probe.prototype, 'handler')!;
  Controller('probe-base')(Probe);
  Get('probe-path')(Probe.prototype, 'handler', descriptor);
  HttpCode(299)(Probe.prototype, 'handler', descriptor);
  const handler = descriptor.value as object;
  return {
    controllerPath: keyHolding(Probe, 'probe-base'),
    path: keyHolding(handler, 'probe-path'),
    method: keyHolding(handler, RequestMethod.GET),
    httpCode: keyHolding(handler, 299),
  };
})();

/** The controllers' routes, as Nest registers them. */
export function routesOf(controller: Type<unknown>): RouteInfo[] {
  const base = String(Reflect.getMetadata(NEST_KEYS.controllerPath, controller) ?? '');
  const proto = controller.prototype as Record<string, unknown>;
  return Object.getOwnPropertyNames(proto).flatMap((handler) => {
    const fn = proto[handler];
    if (typeof fn !== 'function' || handler === 'constructor') return [];
    const sub = Reflect.getMetadata(NEST_KEYS.path, fn) as string | undefined;
    const methodCode = Reflect.getMetadata(NEST_KEYS.method, fn) as RequestMethod | undefined;
    if (sub === undefined || methodCode === undefined) return [];
    const method = RequestMethod[methodCode].toLowerCase();
    const joined = `/${[base, sub]
      .map((p) => p.replace(/^\/+|\/+$/g, ''))
      .filter(Boolean)
      .join('/')}`;
    const status = (Reflect.getMetadata(NEST_KEYS.httpCode, fn) as number | undefined) ?? (method === 'post' ? 201 : 200);
    return [{ controller, handler, method, path: joined.replace(/:([A-Za-z0-9_]+)/g, '{$1}'), status }];
  });
}

const SECURITY: Record<SecurityKind, OperationObject['security']> = {
  client: [{ apiClientKey: [], requestSignature: [] }],
  admin: [{ adminBearer: [] }],
  twilio: [{ twilioSignature: [] }],
};

const SECURITY_SCHEMES = {
  apiClientKey: {
    type: 'apiKey',
    in: 'header',
    name: 'API-CLIENT-KEY',
    description: 'The client integration key (UUID). Missing → GDF000003; unknown → GDF000018.',
  },
  requestSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'AUTHORIZATION',
    description:
      'A JWT signed with the client’s private key (P-521/ES512 upstream; P-256/ES256 and Ed25519/EdDSA too, ours), the algorithm taken from the registered key. ' +
      'Claims: `payload_md5` (MD5 hex of the exact body bytes; of `{}` without a body), `timestamp` (UTC ISO-8601, within AUTH_MAX_CLOCK_SKEW_SECONDS), ' +
      '`method` and `uri` (the path, no query string). A signature is accepted once. Bad or missing → GDF000014. ' +
      '`npm run cli -- sign …` prints these headers for a request.',
  },
  adminBearer: { type: 'http', scheme: 'bearer', description: '`Authorization: Bearer <ADMIN_TOKEN>`. Wrong or missing → DTS000009.' },
  twilioSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Twilio-Signature',
    description:
      'Twilio’s HMAC-SHA1 (base64) of `TWILIO_STATUS_CALLBACK_URL` followed by the sorted form fields, keyed by the auth token. Bad or missing → DTS000012.',
  },
} as const;

const DESCRIPTION = [
  'Device 2FA tokens: a banking client registers a customer’s device, and the device is approved by a one-time token sent to the account’s approver by SMS or e-mail.',
  'The device endpoints follow the upstream banking API exactly (paths, bodies, status codes, error codes and envelope); choices the upstream pages leave open are marked **(ours)**.',
  '',
  'Every error, framework ones included, has the envelope `{ title, description, translation, code, extra_fields }`. ' +
    'Besides the codes listed per operation, any request can get `DTS000006` (404, unknown route or method). ' +
    'Bodies are JSON; another media type gets `DTS000007` (415), except the form-encoded Twilio receipts. ' +
    'What the HTTP server answers before any route is in the same envelope, and the connection is then closed: ' +
    '`DTS000016` (431, request line or headers over 16 KB), `DTS000018` (400, not valid HTTP: a malformed request line or header, a bad Content-Length) ' +
    'and `DTS000017` (408, the request not received within REQUEST_TIMEOUT_MS).',
].join('\n');

/** JSON Schema of a zod schema, as a request sends it or a response carries it. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): SchemaObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io }) as Record<string, unknown>;
  return rest as SchemaObject;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function errorResponses(codes: readonly ErrorCode[]): ResponsesObject {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_CATALOG[code].status, [...(byStatus.get(ERROR_CATALOG[code].status) ?? []), code]);
  const responses: ResponsesObject = {};
  for (const [status, unsorted] of byStatus) {
    const list = [...unsorted].sort();
    responses[String(status)] = {
      description: list.map((code) => `\`${code}\` ${ERROR_CATALOG[code].title}: ${ERROR_CATALOG[code].description}`).join('\n\n'),
      ...(list.includes('DTS000004')
        ? { headers: { 'Retry-After': { description: 'Seconds until a send is allowed again (DTS000004).', schema: { type: 'integer' } } } }
        : {}),
      content: {
        'application/json': {
          schema: { allOf: [ref('ErrorEnvelope'), { type: 'object', properties: { code: { type: 'string', enum: list } } }] },
          examples: Object.fromEntries(
            list.map((code) => [code, { summary: ERROR_CATALOG[code].description, value: envelopeFor(code, EXAMPLE_EXTRA_FIELDS[code] ?? {}) }]),
          ),
        },
      },
    };
  }
  return responses;
}

function pathParameters(path: string): ParameterObject[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => {
    const param = PATH_PARAMS[name];
    if (!param) throw new Error(`OpenAPI: no description of the path parameter ${name} (route-docs.ts, PATH_PARAMS)`);
    return { name, in: 'path', required: true, description: param.description, schema: jsonSchema(param.schema, 'input'), example: param.example };
  });
}

function operation(route: RouteInfo, doc: RouteDoc, schemas: Map<string, SchemaObject>): OperationObject {
  const use = (named: NamedSchema, io: 'input' | 'output') => {
    schemas.set(named.name, jsonSchema(named.schema, io));
    return ref(named.name);
  };
  const op: OperationObject = {
    operationId: doc.operationId,
    tags: [doc.tag],
    summary: doc.summary,
    description: doc.description,
    security: SECURITY[doc.security],
    parameters: pathParameters(route.path),
    responses: {
      [String(route.status)]: {
        description: doc.success.description,
        ...(doc.success.body
          ? { content: { 'application/json': { schema: use(doc.success.body, 'output'), ...(doc.success.example ? { example: doc.success.example } : {}) } } }
          : {}),
      },
      ...errorResponses(doc.errors),
    },
  };
  if (doc.body) {
    op.requestBody = {
      required: doc.body.required,
      content: { [doc.body.mediaType]: { schema: use(doc.body, 'input'), examples: doc.body.examples } },
    };
  }
  return op;
}

export function buildOpenApiDocument(docs: readonly RouteDoc[] = ROUTE_DOCS): OpenAPIObject {
  const controllers = [...new Set(docs.map((d) => d.controller))];
  const schemas = new Map<string, SchemaObject>([['ErrorEnvelope', jsonSchema(ErrorEnvelopeSchema, 'output')]]);
  const paths: PathsObject = {};
  const used = new Set<RouteDoc>();
  for (const route of controllers.flatMap(routesOf)) {
    const doc = docs.find((d) => d.controller === route.controller && d.handler === route.handler);
    if (!doc) throw new Error(`OpenAPI: ${route.controller.name}.${route.handler} (${route.method.toUpperCase()} ${route.path}) has no entry in route-docs.ts`);
    used.add(doc);
    paths[route.path] = { ...paths[route.path], [route.method]: operation(route, doc, schemas) };
  }
  const unused = docs.filter((d) => !used.has(d));
  if (unused.length > 0)
    throw new Error(`OpenAPI: route-docs.ts documents handlers that are not routes: ${unused.map((d) => `${d.controller.name}.${d.handler}`).join(', ')}`);

  return sortKeys({
    openapi: '3.1.0',
    info: { title: 'Device 2FA token API', version: '1.0.0', description: DESCRIPTION },
    tags: TAGS,
    paths,
    components: { schemas: Object.fromEntries(schemas), securitySchemes: SECURITY_SCHEMES },
  } as OpenAPIObject);
}

/** Examples keep the order they were written in (an envelope reads title first, as in the contract). */
const VERBATIM = new Set(['example', 'value']);

/** Object keys sorted at every level but inside examples (arrays keep their order): stable output, readable diffs. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as T;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, VERBATIM.has(k) ? (value as Record<string, unknown>)[k] : sortKeys((value as Record<string, unknown>)[k])]),
  ) as T;
}

/** The document as openapi.json holds it. */
export function openApiJson(document: OpenAPIObject = buildOpenApiDocument()): string {
  return `${JSON.stringify(sortKeys(document), null, 2)}\n`;
}
