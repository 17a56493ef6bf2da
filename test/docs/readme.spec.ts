/** The README's error catalog and configuration table must follow the code. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS } from '@lib/config';
import { ERROR_CATALOG } from '@lib/domain';

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

describe('README', () => {
  it.each(Object.entries(ERROR_CATALOG))('lists %s exactly as the catalog defines it', (code, e) => {
    expect(readme).toContain(`| ${e.status} | ${code} | ${e.title} | ${e.description} | ${e.translation} |`);
  });

  it('documents no code the catalog lacks', () => {
    const documented = new Set([...readme.matchAll(/\| \d{3} \| ([A-Z]{3}\d{6}) \|/g)].map((m) => m[1]));
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CATALOG).sort());
  });

  it('documents every environment variable the configuration reads', () => {
    const names = [...new Set([...SETTINGS.api, ...SETTINGS.worker])];
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });
});
