// Lint: typescript-eslint's recommended type-aware rules, plus the layering rules
// of the design: shared/ imports nothing from server/, client/ or web/ and no Node
// API; client/ (the SDK) and web/ (the demo and status pages built on it) run in
// browsers: no Node API, nothing from server/, and the SDK nothing from the pages.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((name) => `node:${name}`)];

/** The rules of a folder whose code runs in browsers; `notFrom` lists the folders it must not import. */
function browserCode(dir, notFrom) {
  return {
    files: [`${dir}/**/*.ts`],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: `${dir}/ runs in browsers: no Node API.` })),
          patterns: notFrom.map((other) => ({ group: [`**/${other}/**`, `../${other}`], message: `${dir}/ must not depend on ${other}/.` })),
        },
      ],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'require', '__dirname', '__filename'],
    },
  };
}

export default tseslint.config(
  // dist/: the root build; */dist/: a workspace's own build (client/dist).
  { ignores: ['dist/**', '*/dist/**', 'node_modules/**', '.ci/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['server/**/*.ts', 'shared/**/*.ts', 'client/**/*.ts', 'web/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['shared/**/*.ts'],
    languageOptions: { globals: { ...globals['shared-node-browser'] } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'shared/ runs in browsers too: no Node API.' })),
          patterns: [
            { group: ['**/server/**', '../server', '**/client/**', '../client', '**/web/**', '../web'], message: 'shared/ must not depend on server/, client/ or web/.' },
            { group: ['node:*'], message: 'shared/ runs in browsers too: no Node API.' },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'require', '__dirname', '__filename', 'global', 'setImmediate'],
    },
  },
  browserCode('client', ['server', 'web']),
  browserCode('web', ['server']),
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
);
