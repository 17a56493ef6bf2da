/**
 * python-jose (Debian's python3-jose), the library the upstream's Python
 * pages import (`from jose import jwt`), through test/clients/upstream_client.py.
 * It signs ES512 and ES256; it has no EdDSA (JWSError), so Ed25519 keys are
 * not covered with it.
 */
import { describeClientLibrary } from './client-variants';
import { pythonVersions } from './upstream-clients';

describeClientLibrary(__filename, 'python-jose', {
  supported: ['p521', 'p256'],
  unsupported: { ed25519: /^JWSError: Algorithm EdDSA not supported/ },
  versions: async () => {
    const v = await pythonVersions();
    return { python: v.python, 'python-jose': v['python-jose'], cryptography: v.cryptography, requests: v.requests };
  },
});
