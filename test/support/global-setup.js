/**
 * Makes sure the tests have a Redis: uses TEST_REDIS_URL (default
 * 127.0.0.1:6379) when it answers, else starts a throw-away `redis-server`
 * on a free loopback port for this run and points TEST_REDIS_URL at it.
 * Plain JavaScript because Jest loads it before any transform is set up.
 */
const { spawn } = require('node:child_process');

const { redisAnswers, waitForRedis, freePort } = require('../../scripts/redis-probe');

function ping(url) {
  const { hostname, port } = new URL(url);
  return redisAnswers(hostname, Number(port || 6379));
}

module.exports = async function globalSetup() {
  const url = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
  if (await ping(url)) {
    process.env.TEST_REDIS_URL = url;
    return;
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await new Promise((resolve, reject) => {
    child.once('error', (err) =>
      reject(new Error(`No Redis at ${url} and redis-server could not be started (${err.message}). Start Redis or set TEST_REDIS_URL.`)),
    );
    child.once('spawn', resolve);
  });
  await waitForRedis('127.0.0.1', port);
  process.env.TEST_REDIS_URL = `redis://127.0.0.1:${port}`;
  globalThis.__TEST_REDIS__ = child;
  process.stdout.write(`\n[tests] no Redis at ${url}; started one for this run at ${process.env.TEST_REDIS_URL}\n`);
};
