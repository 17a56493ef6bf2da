import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { CLIENT_KEY_KINDS, generateClientKeyPair, type ClientKeyKind } from '@lib/request-signing';
import { commandLine, displayPath, oneOf, optionalString, out, requiredString, UsageError, userPath, type CliCommand } from '../cli-support';

export interface WrittenKeyPair {
  privatePath: string;
  publicPath: string;
  publicKeyPem: string;
  privateKeyPem: string;
  alg: string;
}

/** Writes NAME.private.pem (0600) and NAME.public.pem into dir; refuses to overwrite unless forced. */
export async function writeKeyPair(kind: ClientKeyKind, dir: string, name: string, force: boolean): Promise<WrittenKeyPair> {
  const pair = generateClientKeyPair(kind);
  await mkdir(dir, { recursive: true });
  const privatePath = join(dir, `${name}.private.pem`);
  const publicPath = join(dir, `${name}.public.pem`);
  const flag = force ? 'w' : 'wx';
  if (!force) {
    for (const path of [privatePath, publicPath]) {
      if (existsSync(path)) throw new UsageError(`${displayPath(path)} already exists (use --force to overwrite, or --name)`);
    }
  }
  try {
    await writeFile(privatePath, pair.privateKeyPem, { mode: 0o600, flag });
    await writeFile(publicPath, pair.publicKeyPem, { mode: 0o644, flag });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError(`${displayPath(privatePath)} already exists (use --force to overwrite, or --name)`);
    }
    throw error;
  }
  return { privatePath, publicPath, ...pair };
}

export const keygenCommand: CliCommand = {
  name: 'keygen',
  summary: 'generate a client key pair (private + public PEM files)',
  help: `Usage: npm run cli -- keygen --kind p521|p256|ed25519 [--out DIR] [--name NAME] [--force] [--print-private]

Writes NAME.private.pem (PKCS#8, file mode 0600) and NAME.public.pem (SPKI)
and prints their paths. The private key is not printed unless asked.

Options:
  --kind KIND        p521 → ES512 (the upstream scheme), p256 → ES256, ed25519 → EdDSA
  --out DIR          directory to write into (default: .demo/keys, which git ignores)
  --name NAME        file name prefix (default: client-KIND)
  --force            overwrite existing files
  --print-private    also print the private key PEM on stdout

Example:
  npm run cli -- keygen --kind p521 --out .demo/keys`,
  options: {
    kind: { type: 'string' },
    out: { type: 'string' },
    name: { type: 'string' },
    force: { type: 'boolean' },
    'print-private': { type: 'boolean' },
  },
  async run(values) {
    const kind = oneOf('kind', requiredString(values, 'kind'), CLIENT_KEY_KINDS);
    const dir = userPath(optionalString(values, 'out') ?? '.demo/keys');
    const name = optionalString(values, 'name') ?? `client-${kind}`;
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new UsageError('--name may only hold letters, digits, ".", "_" and "-"');
    const written = await writeKeyPair(kind, dir, name, values.force === true);

    out(`Generated a ${kind} key pair (signs with ${written.alg}).`);
    out(`  private key: ${displayPath(written.privatePath)}   (keep it secret)`);
    out(`  public key:  ${displayPath(written.publicPath)}`);
    out();
    out(written.publicKeyPem.trimEnd());
    if (values['print-private'] === true) {
      out();
      out(written.privateKeyPem.trimEnd());
    }
    out();
    out('Register it with the api:');
    out(
      `  ${commandLine(['npm', 'run', 'cli', '--', 'client:put', '--key', randomUUID(), '--name', 'My client', '--public-key', displayPath(written.publicPath)])}`,
    );
    return 0;
  },
};
