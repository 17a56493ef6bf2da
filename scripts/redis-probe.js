/**
 * Tiny helpers for scripts that must find or start a local Redis before any
 * dependency is loaded (npm start, the test suite's global set-up): plain
 * Node, no packages.
 */
'use strict';

const net = require('node:net');

/** True when something at host:port answers PING with PONG within timeoutMs. */
function redisAnswers(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** Waits until Redis answers at host:port, up to `attempts` tries 100 ms apart. */
async function waitForRedis(host, port, attempts = 50) {
  for (let i = 0; i < attempts; i += 1) {
    if (await redisAnswers(host, port)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** A port that was free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

module.exports = { redisAnswers, waitForRedis, freePort };
