/** Stops the Redis that global-setup.js started, if it started one. */
module.exports = async function globalTeardown() {
  const child = globalThis.__TEST_REDIS__;
  if (child && child.exitCode === null) child.kill('SIGTERM');
};
