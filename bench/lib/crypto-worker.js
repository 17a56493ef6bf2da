/**
 * Worker thread of the bench: signs request JWTs in bulk (before a run, so
 * the load generator only sends), and runs the ES512 verification loop that
 * sets case 1a's ceiling. Plain JS so it needs no loader inside the thread.
 *
 * The JWT is built exactly as libs/request-signing's signRequest builds it
 * (protected header {alg, typ: 'JWT'}, the claims object as the payload), but
 * signed with node:crypto directly: jose's WebCrypto P-521 signing is several
 * times slower, and the pool for one ES512 round holds thousands of requests.
 */
const { parentPort } = require('node:worker_threads');
const { createPrivateKey, createPublicKey, sign, verify } = require('node:crypto');

const HASH = { ES512: 'sha512', ES256: 'sha256', EdDSA: null };
const b64u = (buf) => Buffer.from(buf).toString('base64url');

const keys = new Map();
function privateKey(pem) {
  let key = keys.get(pem);
  if (!key) keys.set(pem, (key = createPrivateKey(pem)));
  return key;
}

function signJwt(pem, alg, claims) {
  const input = `${b64u(JSON.stringify({ alg, typ: 'JWT' }))}.${b64u(JSON.stringify(claims))}`;
  const key = privateKey(pem);
  const signature = HASH[alg] ? sign(HASH[alg], Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }) : sign(null, Buffer.from(input), key);
  return `${input}.${b64u(signature)}`;
}

/** Verifies the same ES512 JWTs over and over for `ms`; returns verifications per second on this thread. */
function verifyLoop(publicKeyPem, jwts, ms) {
  const key = createPublicKey(publicKeyPem);
  const items = jwts.map((jwt) => {
    const dot = jwt.lastIndexOf('.');
    return { input: Buffer.from(jwt.slice(0, dot)), signature: Buffer.from(jwt.slice(dot + 1), 'base64url') };
  });
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    const { input, signature } = items[n % items.length];
    if (!verify('sha512', input, { key, dsaEncoding: 'ieee-p1363' }, signature)) throw new Error('ceiling loop: a signature did not verify');
    n += 1;
    if ((n & 15) === 0) now = performance.now();
  }
  return n / ((performance.now() - start) / 1000);
}

parentPort.on('message', (msg) => {
  try {
    if (msg.kind === 'sign') {
      const jwts = msg.items.map((it) => signJwt(it.pem, it.alg, it.claims));
      parentPort.postMessage({ id: msg.id, result: jwts });
    } else if (msg.kind === 'verify-loop') {
      parentPort.postMessage({ id: msg.id, result: verifyLoop(msg.publicKeyPem, msg.jwts, msg.ms) });
    }
  } catch (err) {
    parentPort.postMessage({ id: msg.id, error: String(err && err.stack ? err.stack : err) });
  }
});
