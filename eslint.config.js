// @ts-check
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier/flat';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', 'examples/**', 'eslint.config.js'] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  // Plain JavaScript launchers and scripts are outside the TypeScript project.
  { files: ['**/*.js', '**/*.mjs'], extends: [tseslint.configs.disableTypeChecked] },
  // The low-level SDK Server is used on purpose (see src/server.ts): the SDK marks it deprecated for
  // casual use only.
  {
    files: [
      'src/server.ts',
      'src/http.ts',
      'src/tools/register.ts',
      'src/resources/*.ts',
      'src/prompts/*.ts',
    ],
    rules: { '@typescript-eslint/no-deprecated': 'off' },
  },
  // Tests read tool results as untyped JSON, as a client does.
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  // stdout is the MCP stdio channel: nothing in src/ may print to it.
  { files: ['src/**/*.ts'], rules: { 'no-console': 'error' } },
  // Tools are protocol-agnostic data; only tools/register.ts knows MCP.
  {
    files: ['src/tools/**/*.ts'],
    ignores: ['src/tools/register.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@modelcontextprotocol/sdk', '@modelcontextprotocol/sdk/*'],
              message: 'Tools are protocol-agnostic; adapt in tools/register.ts',
            },
          ],
        },
      ],
    },
  },
  // Clients know nothing of tools or MCP.
  {
    files: ['src/clients/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../tools/*', '@modelcontextprotocol/*'],
              message: 'Clients stay free of MCP and tools',
            },
          ],
        },
      ],
    },
  },
  prettier,
);
