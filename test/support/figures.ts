/**
 * Figures of the reliability and security suites (dispatches, lost,
 * duplicated, fuzz cases, refused attacks…): each spec file records its own
 * and, when it ends, prints them and writes them to
 * `test/artifacts/<suite>/<file>.json`; `test/artifacts/<suite>.json` is
 * rebuilt from every file's figures each time, so after a run it holds the
 * whole suite's summary whatever order the files ran in. `test/artifacts/` is
 * not committed.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const ARTIFACTS = join(__dirname, '..', 'artifacts');

export type FigureValue = number | string | boolean | null | FigureValue[] | { [key: string]: FigureValue };

export class Figures {
  readonly file: string;
  private readonly values: Record<string, FigureValue> = {};
  /** Written to the file only: too long for the console. */
  private readonly details: Record<string, FigureValue> = {};
  private readonly started = Date.now();

  /** `suite`: `reliability` or `security`; `file`: the spec's `__filename`. */
  constructor(
    readonly suite: string,
    file: string,
  ) {
    this.file = basename(file).replace(/\.[a-z-]+-spec\.ts$/, '');
  }

  set(name: string, value: FigureValue): void {
    this.values[name] = value;
  }

  add(name: string, by = 1): void {
    const current = this.values[name];
    this.values[name] = (typeof current === 'number' ? current : 0) + by;
  }

  get(name: string): FigureValue | undefined {
    return this.values[name];
  }

  /** A figure for the artifact file only (breakdowns too long to print). */
  detail(name: string, value: FigureValue): void {
    this.details[name] = value;
  }

  /** Prints this file's figures and writes them, then the suite's summary. Call from afterAll. */
  write(): void {
    const own = { ...this.values, duration_s: Math.round((Date.now() - this.started) / 100) / 10, at: new Date().toISOString() };
    const dir = join(ARTIFACTS, this.suite);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${this.file}.json`), `${JSON.stringify({ ...own, ...this.details }, null, 2)}\n`);

    const summary: Record<string, unknown> = {};
    for (const name of readdirSync(dir)
      .filter((n) => n.endsWith('.json'))
      .sort()) {
      try {
        summary[name.replace(/\.json$/, '')] = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      } catch {
        // a file being written by another worker: the next writer includes it
      }
    }
    writeFileSync(join(ARTIFACTS, `${this.suite}.json`), `${JSON.stringify(summary, null, 2)}\n`);

    const lines = Object.entries(own).map(([k, v]) => `  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    process.stdout.write(`\n[${this.suite} figures] ${this.file}\n${lines.join('\n')}\n`);
  }
}
