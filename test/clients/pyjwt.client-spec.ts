/**
 * PyJWT (Debian's python3-jwt, with python3-cryptography), through
 * test/clients/upstream_client.py: `jwt.encode(claims, private_key_pem,
 * algorithm=...)`. It signs ES512, ES256 and EdDSA, so every key kind the
 * service registers is covered with it.
 */
import { describeClientLibrary } from './client-variants';
import { pythonVersions } from './upstream-clients';

describeClientLibrary(__filename, 'pyjwt', {
  supported: ['p521', 'p256', 'ed25519'],
  unsupported: {},
  versions: async () => {
    const v = await pythonVersions();
    return { python: v.python, pyjwt: v.pyjwt, cryptography: v.cryptography, requests: v.requests };
  },
});
