/**
 * `npm run openapi`: writes the API's OpenAPI document (built from the code,
 * without starting the app) to openapi.json at the repository's top level.
 * `npm run openapi -- --check` only says whether openapi.json is up to date.
 */
import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApiJson } from '../apps/api/src/docs/openapi-document';

const target = join(__dirname, '..', 'openapi.json');
const generated = openApiJson();
let current: string | undefined;
try {
  current = readFileSync(target, 'utf8');
} catch {
  current = undefined;
}

if (process.argv.includes('--check')) {
  if (current !== generated) {
    process.stderr.write('openapi.json is out of date: run `npm run openapi`\n');
    process.exit(1);
  }
  process.stdout.write('openapi.json is up to date\n');
} else if (current === generated) {
  process.stdout.write('openapi.json is up to date\n');
} else {
  writeFileSync(target, generated);
  process.stdout.write(`wrote ${target}\n`);
}
