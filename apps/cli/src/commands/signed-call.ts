/** What `sign`, `request` and `demo` share: reading the signed-call options and printing a curl line. */
import type { SignedRequestHeaders } from '@lib/request-signing';
import type { SignedCall } from '../api-client';
import { BODY_OPTIONS, bodyOption, commandLine, readUserFile, requiredString, type CliEnv, type OptionSpec, type OptionValues } from '../cli-support';

export const SIGNED_CALL_OPTIONS: OptionSpec = {
  'client-key': { type: 'string' },
  'private-key': { type: 'string' },
  method: { type: 'string' },
  uri: { type: 'string' },
  ...BODY_OPTIONS,
};

export const SIGNED_CALL_HELP = `  --client-key UUID    the client integration key (sent as API-CLIENT-KEY)
  --private-key FILE   the client's private key PEM (from keygen)
  --method METHOD      GET, POST, PUT, PATCH or DELETE
  --uri PATH           the request path, e.g. /account/{account_key}/device
  --body JSON          the JSON body, sent and hashed exactly as written
  --body-file FILE     read the body from a file instead`;

export async function signedCallFrom(values: OptionValues): Promise<SignedCall> {
  const uri = requiredString(values, 'uri');
  return {
    clientKey: requiredString(values, 'client-key'),
    privateKeyPem: await readUserFile(requiredString(values, 'private-key'), 'private key file'),
    method: requiredString(values, 'method').toUpperCase(),
    path: uri.startsWith('/') ? uri : `/${uri}`,
    body: await bodyOption(values),
  };
}

export function curlLine(env: CliEnv, call: SignedCall, headers: SignedRequestHeaders): string {
  const args = ['curl', '-sS', '-i', '-X', call.method.toUpperCase(), `${env.apiUrl}${call.path}`];
  args.push('-H', `API-CLIENT-KEY: ${headers['API-CLIENT-KEY']}`, '-H', `AUTHORIZATION: ${headers.AUTHORIZATION}`);
  if (call.body !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', call.body);
  return commandLine(args);
}

export const SIGNATURE_VALIDITY_NOTE = 'The signature is accepted once, within AUTH_MAX_CLOCK_SKEW_SECONDS (300 s by default) of its timestamp.';
