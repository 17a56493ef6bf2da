/**
 * The project's layer rules, checked by dependency-cruiser on the whole tree
 * (`npm run lint`). What each rule keeps true is in its comment; ESLint
 * (eslint.config.mjs) adds the rules that are about code, not modules: no
 * deep import of a package's internals, no Redis key outside libs/store.
 */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment:
        'libs/domain holds the rules (statuses, token policy, limits, the catalog): no framework, queue, SDK or other package, only Node built-ins and itself.',
      severity: 'error',
      from: { path: '^libs/domain/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'domain-depends-on-no-lib',
      comment: 'The domain is the bottom layer: other libs build on it, not the reverse.',
      severity: 'error',
      from: { path: '^libs/domain/' },
      to: { path: '^(libs/(?!domain/)|apps/)' },
    },
    {
      name: 'apps-do-not-import-each-other',
      comment: 'Each app (api, worker, cli) is deployed on its own; what two share lives in libs/.',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'libs-do-not-import-apps',
      comment: 'Libraries are shared by the apps; they cannot reach back into one.',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^(apps|test|bench|scripts)/' },
    },
    {
      name: 'production-code-does-not-import-tests',
      comment: 'Nothing shipped depends on the test suite or the benchmarks.',
      severity: 'error',
      from: { path: '^(apps|libs)/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      comment: 'A cycle between modules makes their order of loading, and of reading, a puzzle.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves to a file or an installed package.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|coverage|test/artifacts|bench/results)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], mainFields: ['main', 'types'] },
  },
};
