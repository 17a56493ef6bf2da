/**
 * The tiers (see README, "Tests"): unit specs beside the code, integration
 * specs on a real Redis and loopback HTTP, end-to-end specs that start the
 * built api and worker as processes, the reliability and security suites on
 * the same harness, and independent clients signing with other libraries.
 */
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
  },
];

const moduleNameMapper = {
  '^@lib/(.*)$': '<rootDir>/libs/$1/src',
};

// jose 6 and NestJS 12 (every @nestjs/* package) ship ES modules only; the apps load them through Node's require(esm),
// which Jest's module system lacks, so Jest compiles it to CommonJS.
const esmOnly = ['jose', '@nestjs'];
const swcJs = ['@swc/jest', { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' }, module: { type: 'commonjs' } }];

const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc, [`node_modules/(${esmOnly.join('|')})/.+\\.js$`]: swcJs },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  moduleNameMapper,
};

module.exports = {
  projects: [
    {
      ...base,
      displayName: 'unit',
      testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts', '<rootDir>/scripts/**/*.spec.ts', '<rootDir>/test/docs/**/*.spec.ts'],
    },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.int-spec.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'], slowTestThreshold: 30 },
    // Proof under faults, load and attack (README, "Guarantees"): built processes, real Redis; each file prints and writes its figures.
    { ...base, displayName: 'reliability', testMatch: ['<rootDir>/test/reliability/**/*.reliability-spec.ts'], slowTestThreshold: 60 },
    { ...base, displayName: 'security', testMatch: ['<rootDir>/test/security/**/*.security-spec.ts'], slowTestThreshold: 60 },
    // The service on real Redis topologies (Cluster, Sentinel) started from redis-server, the master killed mid-stream.
    { ...base, displayName: 'topologies', testMatch: ['<rootDir>/test/topologies/**/*.topology-spec.ts'], slowTestThreshold: 90 },
    // Independent clients (python-jose, PyJWT under Debian's /usr/bin/python3, jsonwebtoken) against the built service. The
    // project's own signer is replaced by one that throws, so every request here is signed by those libraries alone.
    {
      ...base,
      displayName: 'clients',
      testMatch: ['<rootDir>/test/clients/**/*.client-spec.ts'],
      slowTestThreshold: 30,
      moduleNameMapper: { '^@lib/request-signing$': '<rootDir>/test/clients/project-signer-disabled.ts', ...moduleNameMapper },
    },
  ],
  testTimeout: 30_000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  globalSetup: '<rootDir>/test/support/global-setup.js',
  globalTeardown: '<rootDir>/test/support/global-teardown.js',
};
