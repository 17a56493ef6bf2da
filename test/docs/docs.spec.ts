/**
 * The docs follow the code: the error catalog in docs/api.md is the
 * catalog's, row for row, both ways; the configuration table in
 * docs/operations.md names every setting the schema reads, for the app that
 * reads it, with the schema's default, and nothing else; every setting-like
 * name the docs mention exists; every relative link and anchor resolves.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { SETTINGS, settingDefaults } from '@lib/config';
import { ERROR_CATALOG } from '@lib/domain';

const ROOT = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
];

/** The rows of the first table under `heading` (cells trimmed), header and separator left out. */
function tableUnder(markdown: string, heading: string): string[][] {
  const at = markdown.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`no heading ${heading}`);
  const lines = markdown.slice(at).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim()),
    );
  }
  return rows;
}

/** GitHub's anchor for a heading. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

describe('docs/api.md: the error catalog', () => {
  const api = read('docs/api.md');
  const rows = [...api.matchAll(/^\| (\d{3}) \| ([A-Z]{3}\d{6}) \| (.+) \| (.+) \| (.+) \|$/gm)];

  it.each(Object.entries(ERROR_CATALOG))('lists %s exactly as the catalog defines it', (code, e) => {
    expect(rows.filter((r) => r[2] === code).map((r) => r.slice(1))).toEqual([[String(e.status), code, e.title, e.description, e.translation]]);
  });

  it('documents no code the catalog lacks', () => {
    expect(rows.map((r) => r[2]).filter((code) => !(code in ERROR_CATALOG))).toEqual([]);
  });
});

describe('docs/operations.md: the configuration table', () => {
  const rows = tableUnder(read('docs/operations.md'), '## Configure');
  const defaults = settingDefaults();
  const appOf = (name: string) =>
    SETTINGS.api.includes(name) && SETTINGS.worker.includes(name)
      ? 'both'
      : SETTINGS.api.includes(name)
        ? 'api'
        : SETTINGS.worker.includes(name)
          ? 'worker'
          : 'none';
  const documented = rows.map(([names, dflt, app, meaning]) => ({
    names: [...names.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]),
    dflt,
    app,
    meaning,
  }));

  it('has a row for every setting, and no setting twice', () => {
    const names = documented.flatMap((r) => r.names);
    expect(names.length).toBeGreaterThan(40);
    expect([...names].sort()).toEqual([...new Set([...SETTINGS.api, ...SETTINGS.worker])].sort());
  });

  it('says which app reads each one, and what it means', () => {
    for (const row of documented) {
      for (const name of row.names) expect({ name, app: row.app }).toEqual({ name, app: appOf(name) });
      expect(row.meaning.length).toBeGreaterThan(10);
    }
  });

  it("gives each setting the schema's default: a quoted value or — each, in order; words only for a long text or none", () => {
    for (const row of documented) {
      const parts = row.dflt.split(', ');
      const each = parts.length === row.names.length && parts.every((p) => p === '—' || /^`[^`]*`$/.test(p));
      if (each) {
        row.names.forEach((name, i) => {
          const value = parts[i] === '—' ? undefined : parts[i].slice(1, -1);
          expect({ name, default: value }).toEqual({ name, default: defaults[name] });
        });
      } else if (row.dflt.startsWith('—')) {
        for (const name of row.names) expect({ name, default: defaults[name] }).toEqual({ name, default: undefined });
      } else {
        for (const name of row.names)
          expect({ name, longTextOrNone: defaults[name] === undefined || defaults[name]!.length > 40 }).toEqual({ name, longTextOrNone: true });
      }
    }
  });
});

describe('every doc', () => {
  /** Names the docs may mention that are not settings of ours: exported constants of the code, and variables read by others. */
  const codeNames = new Set<string>();
  const scan = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) {
      if (!entry.endsWith('.ts') || entry.includes('node_modules')) continue;
      for (const m of readFileSync(join(ROOT, dir, entry), 'utf8').matchAll(/export const ([A-Z][A-Z0-9_]+)/g)) codeNames.add(m[1]);
    }
  };
  scan('libs');
  scan('apps');
  const OTHERS = [
    'TEST_REDIS_URL',
    'API_URL',
    'FUZZ_SEED',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'UV_THREADPOOL_SIZE',
    'NODE_OPTIONS',
  ];
  /** Read by the OpenTelemetry SDK (docs/operations.md, "Tracing"). */
  const OPENTELEMETRY = [
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    'OTEL_EXPORTER_OTLP_PROTOCOL',
    'OTEL_EXPORTER_OTLP_HEADERS',
    'OTEL_SERVICE_NAME',
    'OTEL_RESOURCE_ATTRIBUTES',
    'OTEL_TRACES_SAMPLER',
    'OTEL_TRACES_SAMPLER_ARG',
    'OTEL_BSP_SCHEDULE_DELAY',
    'OTEL_BSP_MAX_QUEUE_SIZE',
    'OTEL_SDK_DISABLED',
    'OTEL_TRACES_EXPORTER',
  ];
  const known = new Set([...SETTINGS.api, ...SETTINGS.worker, ...codeNames, ...OTHERS, ...OPENTELEMETRY]);

  it.each(DOCS)('%s names no setting the schema lacks', (doc) => {
    const named = [...read(doc).matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)].map((m) => m[1]);
    expect([...new Set(named.filter((name) => !known.has(name)))]).toEqual([]);
  });

  it.each(DOCS)('%s links only to files and anchors that exist', (doc) => {
    const text = read(doc);
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path, anchor] = target.split('#');
      const file = path ? resolve(dirname(join(ROOT, doc)), path) : join(ROOT, doc);
      if (!existsSync(file)) {
        broken.push(`${target} (no ${relative(ROOT, file)})`);
        continue;
      }
      if (anchor) {
        const headings = [...readFileSync(file, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1]));
        if (!headings.includes(anchor)) broken.push(`${target} (no heading #${anchor})`);
      }
    }
    expect(broken).toEqual([]);
  });
});
