#!/usr/bin/env node
/**
 * `npm start`: runs the built api and dispatch worker side by side, for local
 * development (`npm start` builds first, through the `prestart` script). It
 * is the explicit local mode: NODE_ENV defaults to development, and the
 * secrets the environment does not set come from `.local/dev-secrets.env`,
 * generated once per checkout (see dev-secrets.js). When
 * no Redis answers at REDIS_URL on this machine and `redis-server` is
 * installed, a throw-away one (no persistence) is started for the session.
 * In that mode the apps log for a person (LOG_FORMAT=pretty, unless set),
 * and once both answer their readiness check this script prints where the
 * api, its docs, the dashboard (user and generated password) and the outbox
 * are, and the CLI command that runs the whole flow (dev-banner.js).
 * Each line of output is prefixed with the process it came from;
 * SIGINT/SIGTERM go to both; when either process exits, the other is stopped
 * and this script exits with the first one's code.
 */
'use strict';

const { spawn } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join, relative } = require('node:path');
const { constants } = require('node:os');
const readline = require('node:readline');
const { redisAnswers, waitForRedis } = require('./redis-probe');
const { localEnvironment } = require('./dev-secrets');
const { appUrls, readyBanner } = require('./dev-banner');

const root = join(__dirname, '..');
const apps = [
  { name: 'api', entry: join(root, 'dist/apps/api/main.js'), color: 36 },
  { name: 'worker', entry: join(root, 'dist/apps/worker/main.js'), color: 35 },
];
// After a stop was asked for, how long a process gets before SIGKILL.
const STOP_TIMEOUT_MS = 15_000;
// How long the apps get to answer their readiness checks before the banner says they are not ready.
const READY_TIMEOUT_MS = 60_000;

const missing = apps.filter((app) => !existsSync(app.entry));
if (missing.length > 0) {
  process.stderr.write(`${missing.map((a) => a.entry).join(', ')} not found: run \`npm run build\` first.\n`);
  process.exit(1);
}

const local = localEnvironment(process.env);
const env = local.env;
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
if (env.NODE_ENV === 'development' && !env.LOG_FORMAT) {
  env.LOG_FORMAT = 'pretty';
  // The apps write to a pipe (this script): let pino-pretty colour when this terminal does.
  if (useColor && env.FORCE_COLOR === undefined) env.FORCE_COLOR = '1';
}

/** Says which mode runs, where its secrets come from and how the apps log (the addresses come with readyBanner). */
function announceMode() {
  const out = (line) => process.stdout.write(`${line}\n`);
  if (env.NODE_ENV !== 'development') {
    out(`NODE_ENV=${env.NODE_ENV}: not the local development mode, so no secrets are generated; the apps require their own.`);
    return;
  }
  out('Local development mode (NODE_ENV=development).');
  const file = relative(process.cwd(), local.file) || local.file;
  if (local.fromFile.length === 0) {
    out(`Secrets: all from your environment (${file} not used).`);
  } else {
    out(`Secrets: ${local.fromFile.join(', ')} from ${file} (${local.created ? 'generated now' : 'generated earlier'}, mode 0600; delete it for new ones).`);
    out(`  The CLI reads ADMIN_TOKEN from there when it is unset.`);
  }
  out(`Logs: ${env.LOG_FORMAT === 'pretty' ? 'for reading (LOG_FORMAT=pretty; LOG_FORMAT=json for JSON lines)' : `LOG_FORMAT=${env.LOG_FORMAT || 'json'}`}.`);
  out('The api, dashboard and outbox addresses follow once both apps are ready.');
}

/** True when `url`/health/ready answers 200 within a second. */
async function answersReady(url) {
  try {
    const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** Development mode: once the api and the worker are ready (or after READY_TIMEOUT_MS), prints the banner. */
async function announceWhenReady() {
  if (env.NODE_ENV !== 'development') return;
  const urls = Object.values(appUrls(env)).filter(Boolean);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let ready = false;
  while (!stopping && Date.now() < deadline) {
    if ((await Promise.all(urls.map(answersReady))).every(Boolean)) {
      ready = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 250).unref());
  }
  if (stopping) return;
  // Let the apps' own start-up lines (written every 100 ms) come first.
  await new Promise((r) => setTimeout(r, 200).unref());
  if (stopping) return;
  for (const line of readyBanner({ env, local, ready, root, cwd: process.env.INIT_CWD || process.cwd() })) process.stdout.write(`${line}\n`);
}

const width = Math.max(...apps.map((a) => a.name.length));
const prefixOf = (app) => {
  const label = `[${app.name}]`.padEnd(width + 2);
  return useColor ? `\x1b[${app.color}m${label}\x1b[0m` : label;
};

/** Pipes a child stream to ours line by line, each line prefixed. */
function relay(stream, target, prefix) {
  readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    target.write(`${prefix} ${line}\n`);
  });
}

const running = new Set();
let firstExitCode;
let stopping = false;
let killTimer;

function stopAll(signal) {
  if (stopping) return;
  stopping = true;
  for (const child of running) child.kill(signal);
  killTimer = setTimeout(() => {
    for (const child of running) child.kill('SIGKILL');
  }, STOP_TIMEOUT_MS);
  killTimer.unref();
}

let redisChild;

/** Starts a local redis-server when REDIS_URL points at this machine and nothing answers there. */
async function ensureRedis() {
  const url = new URL(env.REDIS_URL || 'redis://127.0.0.1:6379');
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 6379);
  if (await redisAnswers(host, port)) return;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
    process.stderr.write(`No Redis answers at ${url.host}; start it or set REDIS_URL.\n`);
    process.exit(1);
  }
  process.stdout.write(`No Redis at ${host}:${port}; starting a throw-away redis-server (no persistence) for this session.\n`);
  redisChild = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
    detached: true,
  });
  redisChild.on('error', (error) => {
    process.stderr.write(`could not start redis-server (${error.message}): install Redis (apt-get install redis-server) or set REDIS_URL.\n`);
    process.exit(1);
  });
  if (await waitForRedis('127.0.0.1', port)) return;
  process.stderr.write('redis-server did not answer in 5 s.\n');
  process.exit(1);
}

function stopRedis() {
  if (redisChild && redisChild.exitCode === null) redisChild.kill('SIGTERM');
}

function startApps() {
  for (const app of apps) {
    // Own process group (detached), so a Ctrl+C reaches each process once,
    // through this script, and not a second time straight from the terminal.
    const child = spawn(process.execPath, [app.entry], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running.add(child);
    const prefix = prefixOf(app);
    relay(child.stdout, process.stdout, prefix);
    relay(child.stderr, process.stderr, prefix);

    child.on('error', (error) => {
      // Spawning failed: no 'exit' event will come for this child.
      process.stderr.write(`${prefix} could not start: ${error.message}\n`);
      running.delete(child);
      if (firstExitCode === undefined) firstExitCode = 1;
      stopAll('SIGTERM');
      if (running.size === 0) process.exitCode = firstExitCode;
    });
    child.on('exit', (code, signal) => {
      running.delete(child);
      const exitCode = code ?? 128 + (constants.signals[signal] ?? 0);
      if (firstExitCode === undefined) {
        firstExitCode = exitCode;
        if (!stopping) process.stderr.write(`${prefix} exited (${signal ?? `code ${code}`}); stopping the others\n`);
        stopAll('SIGTERM');
      }
      if (running.size === 0) {
        clearTimeout(killTimer);
        stopRedis();
        process.exitCode = firstExitCode;
      }
    });
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stopAll(signal));
// If this script dies some other way, do not leave the children running.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  stopRedis();
});

announceMode();
ensureRedis().then(() => {
  startApps();
  void announceWhenReady();
});
