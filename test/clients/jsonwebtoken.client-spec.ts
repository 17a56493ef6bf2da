/**
 * Node's jsonwebtoken, `jwt.sign(claims, privateKeyPem, { algorithm })`, and
 * fetch. It adds an `iat` claim to every token (one the service must
 * ignore). It signs ES512 and ES256; EdDSA is not among its algorithms, so
 * Ed25519 keys are not covered with it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describeClientLibrary } from './client-variants';

describeClientLibrary(__filename, 'jsonwebtoken', {
  supported: ['p521', 'p256'],
  unsupported: { ed25519: /"algorithm" must be a valid string enum value/ },
  versions: async () => {
    const pkg = JSON.parse(readFileSync(join(dirname(require.resolve('jsonwebtoken')), 'package.json'), 'utf8')) as { version: string };
    return { node: process.version, jsonwebtoken: pkg.version };
  },
});
