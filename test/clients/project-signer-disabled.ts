/**
 * What `@lib/request-signing` resolves to in the clients tier (jest.config.js):
 * the library as it is, but for the two functions that sign a request, which
 * throw. The tier's requests are signed by independent libraries only
 * (./upstream-clients.ts); the shared harness it borrows (test/support) may
 * still load the project's library for its key kinds and helpers, but
 * nothing here can sign with it, even by accident.
 */
export * from '../../libs/request-signing/src';

const refuse = (name: string): never => {
  throw new Error(`${name} from libs/request-signing was called in the clients tier, whose requests are signed by independent libraries only`);
};

export function signRequest(): never {
  return refuse('signRequest');
}

export function requestClaims(): never {
  return refuse('requestClaims');
}
