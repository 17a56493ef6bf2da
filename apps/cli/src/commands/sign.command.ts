import { signedHeaders } from '../api-client';
import { err, out, type CliCommand } from '../cli-support';
import { curlLine, SIGNATURE_VALIDITY_NOTE, SIGNED_CALL_HELP, SIGNED_CALL_OPTIONS, signedCallFrom } from './signed-call';

export const signCommand: CliCommand = {
  name: 'sign',
  summary: 'print the signed headers of a device API request, and a curl line',
  help: `Usage: npm run cli -- sign --client-key UUID --private-key FILE --method METHOD --uri PATH [--body JSON | --body-file FILE]

Prints the API-CLIENT-KEY and AUTHORIZATION headers (a JWT over the body's
MD5, the time, the method and the path) and a ready-to-run curl command.
${SIGNATURE_VALIDITY_NOTE}

Options:
${SIGNED_CALL_HELP}

Example:
  npm run cli -- sign --client-key 0b9c1f7e-2f4a-4d8e-9a51-3c1e7a9b2d40 --private-key .demo/keys/client-p521.private.pem \\
    --method GET --uri /account/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b/device/1d3c5b7a-9e8f-4a6b-8c2d-0e1f2a3b4c5d`,
  options: SIGNED_CALL_OPTIONS,
  async run(values, env) {
    const call = await signedCallFrom(values);
    const headers = await signedHeaders(call);
    out(`API-CLIENT-KEY: ${headers['API-CLIENT-KEY']}`);
    out(`AUTHORIZATION: ${headers.AUTHORIZATION}`);
    out();
    out(curlLine(env, call, headers));
    err();
    err(SIGNATURE_VALIDITY_NOTE);
    return 0;
  },
};
