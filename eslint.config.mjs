/**
 * ESLint for the whole tree (typescript-eslint's recommended rules, Prettier
 * for layout), plus two of the project's rules that a reviewer would
 * otherwise have to catch:
 * - no deep import of another package's internals (`dist/`, `lib/`, `src/`…
 *   or a subpath it does not export): public APIs only;
 * - outside libs/store, no Redis key spelled out: keys come from RedisKeys,
 *   so a change of layout is one change (tests and benchmarks included).
 * The layer rules between the project's own modules are dependency-cruiser's
 * (.dependency-cruiser.cjs).
 */
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Key segments of the service's Redis layout (libs/store/src/redis-keys.ts). */
const KEY_SEGMENT = ':(account|device|dispatch|dispatches|limit|replay|client|directory|provider-message|bull)(:|$)';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test/artifacts/**', 'bench/results/**', '.local/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(@[^/]+/)?[^/.@][^/]*/(dist|lib|src|build|esm|cjs|internal|storage)(/|$)',
              message: "Import a package's public API, not its internals.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Tests and benchmarks read JSON answers and third-party shapes as they come.
    files: ['test/**', 'bench/**', '**/*.spec.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.ts'],
    // libs/store owns the layout; the benchmarks' reference servers have layouts of their own.
    ignores: ['libs/store/**', 'bench/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: `Literal[value=/${KEY_SEGMENT}/]`,
          message: 'Redis keys come from RedisKeys (libs/store): do not spell the layout out.',
        },
        {
          selector: `TemplateElement[value.raw=/${KEY_SEGMENT}/]`,
          message: 'Redis keys come from RedisKeys (libs/store): do not spell the layout out.',
        },
      ],
    },
  },
  prettier,
);
