/**
 * The API documentation served by the running api: the Swagger UI at /docs
 * and the OpenAPI document at /docs/openapi.json, public (no credentials), the
 * same document as the committed openapi.json; nothing at all when
 * DOCS_ENABLED=false.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { http } from '../support/api-client';
import { expectError } from '../support/e2e-checks';
import { Stack } from '../support/stack';

const committed = JSON.parse(readFileSync(join(__dirname, '..', '..', 'openapi.json'), 'utf8'));

describe('API documentation', () => {
  describe('enabled (the default)', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await Stack.start({ label: 'docs', startWorker: false });
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('serves the OpenAPI document without credentials, equal to openapi.json', async () => {
      const res = await http(`${stack.apiUrl}/docs/openapi.json`, { method: 'GET' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body).toEqual(committed);
    });

    it('serves the Swagger UI and its assets', async () => {
      const page = await http(`${stack.apiUrl}/docs`, { method: 'GET' });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.text).toContain('swagger-ui');
      expect(page.text).toContain('<title>Device 2FA token API</title>');
      const init = await http(`${stack.apiUrl}/docs/swagger-ui-init.js`, { method: 'GET' });
      expect(init.status).toBe(200);
      expect(init.text).toContain('"operationId": "resendToken"');
      expect((await http(`${stack.apiUrl}/docs/swagger-ui-bundle.js`, { method: 'GET' })).status).toBe(200);
      expect((await http(`${stack.apiUrl}/docs/openapi.yaml`, { method: 'GET' })).text).toContain('openapi: 3.1.0');
    });
  });

  describe('DOCS_ENABLED=false', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await Stack.start({ label: 'nodocs', startWorker: false, env: { DOCS_ENABLED: 'false' } });
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('serves neither the UI nor the document', async () => {
      for (const path of ['/docs', '/docs/', '/docs/openapi.json', '/docs/openapi.yaml', '/docs/swagger-ui-bundle.js']) {
        expectError(await http(`${stack.apiUrl}${path}`, { method: 'GET' }), 'DTS000006');
      }
    });
  });
});
