import { formatBody, isSuccess, signedSend } from '../api-client';
import { out, type CliCommand } from '../cli-support';
import { SIGNED_CALL_HELP, SIGNED_CALL_OPTIONS, signedCallFrom } from './signed-call';

export const requestCommand: CliCommand = {
  name: 'request',
  summary: 'sign a device API request, send it, print the status and the JSON answer',
  help: `Usage: npm run cli -- request --client-key UUID --private-key FILE --method METHOD --uri PATH [--body JSON | --body-file FILE]

Signs the request like \`sign\` does, sends it to API_URL and prints the HTTP
status and the answer. Exits 0 on a 2xx answer, 1 otherwise.

Options:
${SIGNED_CALL_HELP}

Example:
  npm run cli -- request --client-key 0b9c1f7e-2f4a-4d8e-9a51-3c1e7a9b2d40 --private-key .demo/keys/client-p521.private.pem \\
    --method PUT --uri /account/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b/device/1d3c5b7a-9e8f-4a6b-8c2d-0e1f2a3b4c5d/validate \\
    --body '{"token":"123456"}'`,
  options: SIGNED_CALL_OPTIONS,
  async run(values, env) {
    const call = await signedCallFrom(values);
    const res = await signedSend(env, call);
    out(`${call.method} ${call.path} → HTTP ${res.status} ${res.statusText}`);
    out(formatBody(res.body));
    return isSuccess(res) ? 0 : 1;
  },
};
