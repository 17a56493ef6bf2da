/**
 * Serves the OpenAPI document (built from the code, see openapi-document.ts)
 * when DOCS_ENABLED: the UI at /docs, the document at /docs/openapi.json and
 * /docs/openapi.yaml. Public, like any API reference: no device-API or admin
 * credentials are needed to read it.
 */
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { ApiConfig } from '@lib/config';
import { buildOpenApiDocument } from './openapi-document';

export const DOCS_PATH = 'docs';

export function setupApiDocs(app: NestFastifyApplication, config: ApiConfig): void {
  if (!config.docsEnabled) return;
  SwaggerModule.setup(DOCS_PATH, app, buildOpenApiDocument(), {
    jsonDocumentUrl: `${DOCS_PATH}/openapi.json`,
    yamlDocumentUrl: `${DOCS_PATH}/openapi.yaml`,
    customSiteTitle: 'Device 2FA token API',
    // The device API's requests must be signed per request: "Try it out" cannot do that.
    swaggerOptions: { supportedSubmitMethods: [], defaultModelsExpandDepth: 0 },
  });
}
