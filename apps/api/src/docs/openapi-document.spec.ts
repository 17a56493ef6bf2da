import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ERROR_CATALOG, envelopeFor } from '@lib/domain';
import { CreateDeviceBody, ResendTokenBody, ValidateTokenBody } from '../device/device.schemas';
import { PutAccountBody, PutClientBody } from '../directory/directory.schemas';
import { TwilioStatusCallbackBody } from '../receipts/twilio-status-callback';
import { buildOpenApiDocument, openApiJson } from './openapi-document';
import { ROUTE_DOCS } from './route-docs';

const COMMITTED = join(__dirname, '..', '..', '..', '..', 'openapi.json');

describe('OpenAPI document', () => {
  const doc = buildOpenApiDocument();
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item as Record<string, any>).map(([method, op]) => ({ path, method, op })),
  );
  const op = (method: string, path: string) => (doc.paths[path] as Record<string, any>)[method];

  it('openapi.json at the repository top is what the code generates (run `npm run openapi` after changing the API)', () => {
    expect(readFileSync(COMMITTED, 'utf8')).toBe(openApiJson(doc));
  });

  it('documents the five device endpoints, the admin API and the receipts webhook, with their success statuses', () => {
    expect(operations.map(({ method, path, op }) => `${method.toUpperCase()} ${path} ${Object.keys(op.responses).find((s) => s < '300')}`).sort()).toEqual([
      'DELETE /account/{account_key}/device/{device_key}/disable 200',
      'GET /account/{account_key}/device/{device_key} 200',
      'PATCH /account/{account_key}/device/{device_key}/resend_token 202',
      'POST /account/{account_key}/device 202',
      'POST /webhooks/twilio/status 204',
      'PUT /account/{account_key}/device/{device_key}/validate 201',
      'PUT /internal/accounts/{account_key} 200',
      'PUT /internal/clients/{client_key} 200',
    ]);
  });

  it('takes the request bodies from the zod schemas the handlers validate with', () => {
    const input = (schema: z.ZodType) => {
      const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
      return rest;
    };
    expect(doc.components?.schemas).toMatchObject({
      CreateDeviceBody: input(CreateDeviceBody),
      ResendTokenBody: input(ResendTokenBody),
      ValidateTokenBody: input(ValidateTokenBody),
      PutClientBody: input(PutClientBody),
      PutAccountBody: input(PutAccountBody),
      TwilioStatusCallback: input(TwilioStatusCallbackBody),
    });
    expect(op('post', '/account/{account_key}/device').requestBody).toMatchObject({
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateDeviceBody' } } },
    });
    expect(op('patch', '/account/{account_key}/device/{device_key}/resend_token').requestBody.required).toBe(false);
    expect(Object.keys(op('post', '/webhooks/twilio/status').requestBody.content)).toEqual(['application/x-www-form-urlencoded']);
  });

  it("carries the contract's resend example", () => {
    expect(op('patch', '/account/{account_key}/device/{device_key}/resend_token').responses['202'].content['application/json'].example).toEqual({
      device_key: 'b6804f32-101e-4702-8fbc-c2dbc4c2caec',
      device_status: 'pending_2fa_approval',
      created_at: '2024-12-22T20:30:23.459Z',
    });
  });

  it('lists each error code under its catalog status, with an example envelope built from the catalog', () => {
    for (const { path, method, op: operation } of operations) {
      const codes = ROUTE_DOCS.find((d) => d.operationId === operation.operationId)!.errors;
      const documented: string[] = [];
      for (const [status, response] of Object.entries(operation.responses as Record<string, any>)) {
        if (Number(status) < 400) continue;
        const content = response.content['application/json'];
        expect(content.schema.allOf[0]).toEqual({ $ref: '#/components/schemas/ErrorEnvelope' });
        for (const [code, example] of Object.entries(content.examples as Record<string, { value: any }>)) {
          documented.push(code);
          expect([method, path, code, ERROR_CATALOG[code as keyof typeof ERROR_CATALOG].status]).toEqual([method, path, code, Number(status)]);
          expect(example.value).toEqual(envelopeFor(code as keyof typeof ERROR_CATALOG, example.value.extra_fields));
        }
        expect(content.schema.allOf[1].properties.code.enum).toEqual(Object.keys(content.examples));
      }
      expect(documented.sort()).toEqual([...codes].sort());
    }
  });

  it('puts every device endpoint behind the signed-request headers, the admin API behind the bearer token, the webhook behind Twilio’s signature', () => {
    expect(Object.keys(doc.components?.securitySchemes ?? {}).sort()).toEqual(['adminBearer', 'apiClientKey', 'requestSignature', 'twilioSignature']);
    for (const { path, op: operation } of operations) {
      const expected = path.startsWith('/account/')
        ? [{ apiClientKey: [], requestSignature: [] }]
        : path.startsWith('/internal/')
          ? [{ adminBearer: [] }]
          : [{ twilioSignature: [] }];
      expect(operation.security).toEqual(expected);
    }
  });

  it('refuses a route without documentation, and documentation without a route', () => {
    expect(() => buildOpenApiDocument(ROUTE_DOCS.filter((d) => d.operationId !== 'validateToken'))).toThrow(
      'OpenAPI: DeviceController.validate (PUT /account/{account_key}/device/{device_key}/validate) has no entry in route-docs.ts',
    );
    expect(() => buildOpenApiDocument([...ROUTE_DOCS, { ...ROUTE_DOCS[0], handler: 'gone' }])).toThrow(
      'OpenAPI: route-docs.ts documents handlers that are not routes: DeviceController.gone',
    );
  });
});
