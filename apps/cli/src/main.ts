/**
 * Developer CLI for the device 2FA token service: key generation, the admin
 * API, signed device API calls and an end-to-end demo. Run it with
 * `npm run cli -- <command> [options]`; every command has `--help`.
 */
import { dirname, resolve } from 'node:path';
import { UnsupportedKeyError } from '@lib/request-signing';
import { ApiResponseError, ApiUnreachableError, formatBody } from './api-client';
import { cliEnv, displayPath, err, out, parseCommandArgs, UsageError, type CliCommand, type CliEnv } from './cli-support';
import { accountPutCommand } from './commands/account-put.command';
import { clientPutCommand } from './commands/client-put.command';
import { demoCommand } from './commands/demo.command';
import { keygenCommand } from './commands/keygen.command';
import { outboxCommand } from './commands/outbox.command';
import { requestCommand } from './commands/request.command';
import { signCommand } from './commands/sign.command';
import { OutboxError } from './outbox';

const COMMANDS: CliCommand[] = [keygenCommand, clientPutCommand, accountPutCommand, signCommand, requestCommand, demoCommand, outboxCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: npm run cli -- <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run \`npm run cli -- <command> --help\` for a command's options.

Environment:
  API_URL       the api's base URL (default http://127.0.0.1:3000)
  ADMIN_TOKEN   bearer token of the admin API; when unset, read from .local/dev-secrets.env,
                the file \`npm start\` generates for this checkout (so the demo needs nothing copied)
  OUTBOX_PATH   the development outbox (default .outbox/messages.log, relative to the checkout),
                read by \`outbox\` and \`demo --validate\` in the local development mode only
  TOKEN_ALPHABET, TOKEN_LENGTH   the token's shape, to find a code in a message (as the worker's)`;
}

function reportApiError(error: ApiResponseError, env: CliEnv): void {
  err(`error: ${error.message}`);
  err(formatBody(error.response.body));
  if (error.response.status === 401 && error.what.includes('/internal/')) {
    const from =
      env.adminTokenSource === 'dev-secrets-file'
        ? `the one in ${displayPath(env.devSecretsFile)}, which npm start uses unless ADMIN_TOKEN is set`
        : 'ADMIN_TOKEN';
    err(`hint: the admin token was refused (${from}); set ADMIN_TOKEN to the value the api runs with.`);
  }
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const target = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    out(target ? target.help : usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    err(`error: unknown command ${JSON.stringify(name)}`);
    err();
    err(usage());
    return 2;
  }
  // dist/apps/cli/main.js → the checkout, where npm start keeps its development secrets.
  const env = cliEnv(process.env, resolve(dirname(process.argv[1]), '..', '..', '..'));
  try {
    const values = parseCommandArgs(command, rest);
    if (values === 'help') {
      out(command.help);
      return 0;
    }
    return await command.run(values, env);
  } catch (error) {
    if (error instanceof UsageError || error instanceof UnsupportedKeyError) {
      err(`error: ${error.message}`);
      err(`Run \`npm run cli -- ${command.name} --help\` for usage.`);
      return 2;
    }
    if (error instanceof ApiUnreachableError) {
      err(`error: ${error.message}`);
      err('hint: is the api running? `npm run build && npm start` starts it (Redis must answer on REDIS_URL);');
      err('      set API_URL if it listens elsewhere.');
      return 1;
    }
    if (error instanceof ApiResponseError) {
      reportApiError(error, env);
      return 1;
    }
    if (error instanceof OutboxError) {
      err(`error: ${error.message}`);
      error.hints.forEach((hint, i) => err(`${i === 0 ? 'hint: ' : '      '}${hint}`));
      return 1;
    }
    throw error;
  }
}

// `npm run cli -- sign ... | head -1` closes stdout early: that is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    err(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
