/**
 * Micro-benchmark behind the api's JWT verification choice (docs/api.md, ADR 4): jose's
 * jwtVerify (what the api uses) against a hand-written verifier on
 * node:crypto's asynchronous verify (bench/lib/compact-jws.ts), 50
 * verifications in flight, for ES512 and ES256, twice each, side by side.
 * Run: npx tsx bench/verify-micro.ts
 */
import { generateKeyPairSync } from 'node:crypto';
import { jwtVerify } from 'jose';
import { verifyCompactJwt } from './lib/compact-jws';
import { signRequest } from '@lib/request-signing';
async function main() {
  for (const [curve, alg] of [
    ['P-521', 'ES512'],
    ['P-256', 'ES256'],
  ] as const) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const N = alg === 'ES512' ? 2000 : 20000;
    const jwts: string[] = [];
    for (let i = 0; i < 200; i++) jwts.push((await signRequest({ clientKey: 'c', privateKey, method: 'GET', uri: `/x/${i}` })).AUTHORIZATION);
    for (let rep = 0; rep < 2; rep++) {
      for (const [name, fn] of [
        ['jose', (j: string) => jwtVerify(j, publicKey, { algorithms: [alg] })],
        ['node:crypto', (j: string) => verifyCompactJwt(j, publicKey, alg)],
      ] as const) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        let i = 0;
        // 50 in flight, like the bench's connections
        await Promise.all(
          Array.from({ length: 50 }, async () => {
            while (i < N) {
              await (fn as (j: string) => Promise<unknown>)(jwts[i++ % jwts.length]);
            }
          }),
        );
        const el = performance.now() - t0;
        const c = process.cpuUsage(c0);
        console.log(alg, name.padEnd(11), `${(N / (el / 1000)).toFixed(0)} verifications/s, process CPU ${((c.user + c.system) / N).toFixed(0)} µs each`);
      }
    }
  }
}
void main();
