// Type-aware lint. The promise rules are on: a floating promise in a proxy is a bug.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const TIMERS = ['setTimeout', 'setInterval'];
const TIMER_MESSAGE = "use the injected clock's timers (after/every/sleep from src/kernel/clock.ts) so tests can advance a manual clock instead of sleeping";

export default tseslint.config(
  { ignores: ['node_modules/**', '.gatehouse/**', 'coverage/**', 'docs/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/promise-function-async': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-confusing-void-expression': 'off',
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/unified-signatures': 'off',
    },
  },
  {
    files: ['**/*.test.ts', '**/*.case.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] }],
    },
  },
  // Timers are the clock's (src/kernel/clock.ts: `after`, `every`, `sleep`): a deadline, retry,
  // sweep, debounce or idle timeout on a bare timer cannot be driven by a test's manual clock, so
  // its test has to sleep. Allowed: clock.ts itself (the one place real timers are made) and the
  // CLI (a client process pacing a replay or waiting for a person: no gateway clock there). Node's
  // I/O primitives (`socket.setTimeout`) and event-loop turns (`setImmediate`) are not timers.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts', 'src/**/*.case.ts', 'src/**/*.fixture.ts', 'src/kernel/clock.ts', 'src/cli/**'],
    rules: {
      'no-restricted-globals': ['error', ...TIMERS.map((name) => ({ name, message: TIMER_MESSAGE }))],
      'no-restricted-properties': ['error', ...TIMERS.map((property) => ({ object: 'globalThis', property, message: TIMER_MESSAGE }))],
      'no-restricted-imports': ['error', { paths: ['node:timers', 'node:timers/promises', 'timers', 'timers/promises'].map((name) => ({ name, message: TIMER_MESSAGE })) }],
    },
  },
  { files: ['eslint.config.js', 'bin/*.mjs', 'deploy/**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['deploy/**/*.mjs'], languageOptions: { globals: { fetch: 'readonly', AbortSignal: 'readonly' } } },
  // The console's front end: plain browser ES modules served as they are (no build step).
  {
    files: ['web/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'module',
      parserOptions: { projectService: false, project: null, program: null },
      globals: Object.fromEntries(['window', 'document', 'location', 'history', 'fetch', 'URLSearchParams', 'Node', 'HTMLElement', 'EventListener',
        'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'console'].map((g) => [g, 'readonly'])),
    },
  },
);
