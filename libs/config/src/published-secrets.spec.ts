/**
 * Every secret-looking literal committed to this repository must be one that
 * production refuses: listed in PUBLISHED_SECRETS, a placeholder, or shorter
 * than the smallest minimum. A new test constant or example that production
 * would accept fails here until it is added to the list.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PUBLISHED_SECRETS } from './published-secrets';
import { knownValueProblem, SECRET_MIN_LENGTH } from './secret-rules';

const ROOT = join(__dirname, '..', '..', '..');
const SMALLEST_MINIMUM = Math.min(...Object.values(SECRET_MIN_LENGTH).map((m) => m.chars));

const NAMES =
  'ADMIN_TOKEN|TOKEN_HASH_SECRET|METRICS_TOKEN|BOARD_PASSWORD|BOARD_READONLY_PASSWORD|adminToken|tokenHashSecret|metricsToken|password|PASSWORD|TOKEN|SECRET';
/** `NAME: 'value'`, `NAME = "value"` (a template with `${…}` is computed, not copied). */
const QUOTED = new RegExp(`\\b(?:${NAMES})['"]?\\s*[:=]\\s*(['"\`])([^'"\`$\\s]+)\\1`, 'g');
/** `NAME=value` in shell, .env and compose text. */
const ENV_LINE = /\b(?:ADMIN_TOKEN|TOKEN_HASH_SECRET|METRICS_TOKEN|BOARD_PASSWORD|BOARD_READONLY_PASSWORD)=([^\s'"`$]+)/g;
/** TokenCrypto's first argument is a TOKEN_HASH_SECRET. */
const TOKEN_CRYPTO = /new TokenCrypto\(\s*(['"])([^'"]+)\1/g;

function committedLiterals(): { file: string; value: string }[] {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => /\.(ts|js|json|md|ya?ml|example|env)$|^Dockerfile$/.test(f) && !/package-lock\.json$|^openapi\.json$|^bench\/results\//.test(f));
  const found: { file: string; value: string }[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(join(ROOT, file), 'utf8');
    } catch {
      continue; // listed but deleted in the work tree
    }
    for (const re of [QUOTED, TOKEN_CRYPTO]) for (const m of text.matchAll(re)) found.push({ file, value: m[2] });
    for (const m of text.matchAll(ENV_LINE)) found.push({ file, value: m[1] });
  }
  return found;
}

describe('published secrets', () => {
  it('covers every secret-looking literal committed here', () => {
    const literals = committedLiterals();
    expect(literals.map((l) => l.value)).toEqual(expect.arrayContaining(['e2e-admin-token-0123456789abcdef', 'e2e-token-hash-secret-0123456789abcdef']));
    const accepted = literals.filter(({ value }) => value.length >= SMALLEST_MINIMUM && knownValueProblem(value) === undefined);
    expect(accepted).toEqual([]);
  });

  it('holds no duplicate and nothing a production minimum would refuse anyway', () => {
    expect(new Set(PUBLISHED_SECRETS).size).toBe(PUBLISHED_SECRETS.length);
    expect(PUBLISHED_SECRETS.filter((v) => v.length < SMALLEST_MINIMUM)).toEqual([]);
  });
});
