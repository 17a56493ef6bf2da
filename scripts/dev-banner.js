/**
 * What `npm start` prints once the api and the worker answer, in the local
 * development mode only: where the api, its docs and the queue dashboard are,
 * the dashboard's user and password (the password only when npm start
 * generated it: one the environment gave is not echoed), the outbox, and the
 * one CLI command that runs the whole flow. Plain Node, no packages.
 */
'use strict';

const { isAbsolute, relative, resolve } = require('node:path');

const DEFAULT_API_URL = 'http://127.0.0.1:3000';
const DEFAULT_OUTBOX = '.outbox/messages.log';
/** Settings the CLI reads too: when npm start runs with one set, the printed command carries it. */
const CLI_SETTINGS = ['OUTBOX_PATH', 'TOKEN_ALPHABET', 'TOKEN_LENGTH'];

/** A listen address as a client on this machine reaches it (0.0.0.0 and :: are every interface). */
function reachableHost(host) {
  if (!host || host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Base URLs of the api and the worker's health listener; undefined where the port is chosen at start (0). */
function appUrls(env) {
  const url = (host, port, fallback) => {
    const p = port === undefined || port.trim() === '' ? fallback : port.trim();
    return p === '0' ? undefined : `http://${reachableHost(host)}:${p}`;
  };
  return { api: url(env.HOST, env.PORT, '3000'), worker: url(env.WORKER_HTTP_HOST, env.WORKER_HTTP_PORT, '3001') };
}

/** POSIX single-quote quoting, as the CLI prints its own command lines. */
function shellQuote(arg) {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `npm run cli -- …` with the settings it needs to reach this api and read this outbox, when they differ from its defaults. */
function cliCommand(env, args) {
  const { api } = appUrls(env);
  const vars = [];
  if (api && api !== DEFAULT_API_URL) vars.push(`API_URL=${shellQuote(api)}`);
  for (const name of CLI_SETTINGS) if (env[name] !== undefined && env[name].trim() !== '') vars.push(`${name}=${shellQuote(env[name])}`);
  return [...vars, 'npm', 'run', 'cli', '--', ...args].join(' ');
}

/**
 * The lines to print once the apps are ready (`ready`: both answered), or
 * why they are not; none outside the development mode. `local` is
 * localEnvironment's answer (which variables came from the secrets file),
 * `root` the checkout the apps run in, `cwd` where the user typed npm start.
 */
function readyBanner({ env, local, ready, root, cwd = process.cwd() }) {
  if (env.NODE_ENV !== 'development') return [];
  const { api } = appUrls(env);
  const generated = new Set(local.fromFile || []);
  const show = (path) => {
    const rel = relative(cwd, path);
    return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
  };
  const lines = [];
  lines.push(ready ? 'Ready (local development mode):' : 'Not ready yet (see the lines above); once it is:');
  if (api) {
    lines.push(`  api        ${api}${env.DOCS_ENABLED === 'false' ? '' : `   (API docs: ${api}/docs)`}`);
    lines.push(`  dashboard  ${api}/admin/queues`);
  } else {
    lines.push("  api        PORT=0: the port is in the api's 'listening on' line; the dashboard is at /admin/queues there");
  }
  if (env.BOARD_USERNAME) {
    const password = generated.has('BOARD_PASSWORD') ? env.BOARD_PASSWORD : '(your BOARD_PASSWORD)';
    const from = generated.has('BOARD_PASSWORD') && local.file ? `   (generated, in ${show(local.file)})` : '';
    lines.push(`             user ${env.BOARD_USERNAME}   password ${password}${from}`);
  }
  const outbox = resolve(root, env.OUTBOX_PATH && env.OUTBOX_PATH.trim() !== '' ? env.OUTBOX_PATH.trim() : DEFAULT_OUTBOX);
  lines.push(`  outbox     ${show(outbox)}   (messages with their codes, when no Twilio/SES settings are set)`);
  lines.push('Try the whole flow, in another terminal:');
  lines.push(`  ${cliCommand(env, ['demo', '--validate'])}`);
  if (!generated.has('ADMIN_TOKEN')) lines.push("  (with ADMIN_TOKEN set there to the api's, as it is here)");
  return lines;
}

module.exports = { appUrls, cliCommand, readyBanner };
