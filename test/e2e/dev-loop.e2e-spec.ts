/**
 * The local development loop, end to end: the built api and worker in
 * development mode with pretty logs (LOG_FORMAT=pretty, as npm start runs
 * them) and no Twilio/SES settings, so the worker writes to the development
 * outbox; then the built CLI's `demo --validate` creates a client, an
 * account and a device, reads the code from the outbox, validates the device
 * and prints its final status, and `outbox --device` shows the same code.
 * The code and the approver's contact data appear in the CLI's own output
 * and the outbox only: not in a line the api or the worker printed, pretty
 * as they are. Outside the development mode the CLI reads no outbox.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_TOKEN, Stack } from '../support/stack';

const CLI = join(__dirname, '..', '..', 'dist', 'apps', 'cli', 'main.js');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('the development loop: demo --validate and outbox against the running service', () => {
  let stack: Stack;
  let dir: string;
  let outboxPath: string;

  /** The built CLI as a developer runs it beside npm start, from `dir` (where .demo/ goes). */
  function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'development', API_URL: stack.apiUrl, ADMIN_TOKEN, OUTBOX_PATH: outboxPath, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'e2e-dev-loop-'));
    outboxPath = join(dir, 'outbox', 'messages.log');
    stack = await Stack.start({
      label: 'dev-loop',
      env: {
        NODE_ENV: 'development',
        LOG_FORMAT: 'pretty',
        OUTBOX_PATH: outboxPath,
        // No provider settings: the worker writes every message to the outbox.
        TWILIO_ACCOUNT_SID: undefined,
        TWILIO_AUTH_TOKEN: undefined,
        TWILIO_FROM_NUMBER: undefined,
        TWILIO_API_URL: undefined,
        SES_FROM_ADDRESS: undefined,
        SES_ENDPOINT: undefined,
      },
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('demo --validate creates the device, validates it with the code from the outbox and shows it created; outbox --device shows that code', async () => {
    await stack.worker!.waitFor(/development outbox in use/);
    const run = await cli(['demo', '--validate', '--contact', 'email']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });

    const deviceKey = run.stdout.match(/3\. device created +device_key += ([0-9a-f-]{36}) +→ HTTP 202 Accepted/)![1];
    const [, code, channel, to] = run.stdout.match(/4\. code read from outbox +(\d{6}) +\((sms|email) to (\S+),/)!;
    expect(channel).toBe('email');
    expect(run.stdout).toMatch(/5\. device validated +→ HTTP 201 Created/);
    expect(run.stdout).toMatch(/"device_status": "created"/);
    expect(run.stdout).toMatch(/6\. final status +device_status = created; latest send sent via outbox \(1 attempt\) +→ GET HTTP 200/);

    // The code is the one the outbox holds for that device, and the outbox command shows it.
    const line = readFileSync(outboxPath, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>)
      .find((r) => r.device_key === deviceKey)!;
    expect(line).toMatchObject({ channel: 'email', to });
    expect(line.body).toContain(code);
    const shown = await cli(['outbox', '--device', deviceKey, '--code-only']);
    expect(shown).toEqual({ code: 0, stdout: `${code}\n`, stderr: '' });

    // The apps' own (pretty) lines carry neither the code nor the address it went to.
    const printed = stack.output.join('\n');
    expect(printed).toMatch(/INFO: \[SendToken\] .*email to \S+ handed to outbox/);
    expect(printed).toMatch(/INFO: request completed PUT \/account\/[0-9a-f-]+\/device\/[0-9a-f-]+\/validate → 201/);
    expect(printed).not.toMatch(new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`));
    expect(printed).not.toContain(to);
  });

  it('reads no outbox outside the development mode, and prints no code when it refuses', async () => {
    for (const NODE_ENV of ['production', 'test']) {
      const outbox = await cli(['outbox'], { NODE_ENV });
      expect(outbox.code).toBe(1);
      expect(outbox.stdout).toBe('');
      expect(outbox.stderr).toContain(`the development outbox is read only in the local development mode (NODE_ENV=${NODE_ENV})`);
      const demo = await cli(['demo', '--validate'], { NODE_ENV });
      expect(demo.code).toBe(1);
      // Refused before anything is registered or written.
      expect(demo.stdout).toBe('');
    }
  });
});
