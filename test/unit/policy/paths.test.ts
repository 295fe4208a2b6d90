import { describe, expect, it } from 'vitest';
import { DEFAULT_PROTECTED_PATHS } from '../../../src/config.ts';
import { globToRegExp, isWorkflowPath, protectedPathsIn } from '../../../src/policy/paths.ts';

const refused = (paths: string[], allow: string[] = []) =>
  protectedPathsIn(paths, DEFAULT_PROTECTED_PATHS, allow);

describe('globs', () => {
  it('match ** across segments, * within one, ? one character', () => {
    expect(globToRegExp('**/x.txt').test('x.txt')).toBe(true);
    expect(globToRegExp('**/x.txt').test('a/b/x.txt')).toBe(true);
    expect(globToRegExp('a/**').test('a/b/c')).toBe(true);
    expect(globToRegExp('a/*').test('a/b/c')).toBe(false);
    expect(globToRegExp('requirements*.txt').test('requirements-dev.txt')).toBe(true);
    expect(globToRegExp('?.md').test('ab.md')).toBe(false);
    expect(globToRegExp('a.b').test('aXb')).toBe(false);
  });
});

describe('protected paths', () => {
  it('refuse CI, code owners, manifests, lockfiles and top-level dot-directories by default', () => {
    const paths = [
      '.github/workflows/ci.yml',
      '.github/CODEOWNERS',
      'CODEOWNERS',
      'docs/CODEOWNERS',
      'package.json',
      'packages/api/package.json',
      'package-lock.json',
      'yarn.lock',
      'pnpm-lock.yaml',
      'go.mod',
      'go.sum',
      'Cargo.toml',
      'crates/x/Cargo.lock',
      'requirements.txt',
      'requirements-dev.txt',
      'poetry.lock',
      'Gemfile',
      'Gemfile.lock',
      '.husky/pre-commit',
      '.vscode/settings.json',
      'AGENTS.md',
      // top-level CI, install hooks and agent instructions that are files, not dot-directories
      '.gitlab-ci.yml',
      '.travis.yml',
      'Jenkinsfile',
      '.npmrc',
      'packages/api/.npmrc',
      '.pnpmfile.cjs',
      '.yarnrc.yml',
      '.gitattributes',
      '.cursorrules',
      'GEMINI.md',
      'setup.py',
      'pom.xml',
      'build.gradle.kts',
    ];
    expect(refused(paths)).toEqual(paths);
  });

  it('ignore case, so a differently cased .GitHub is protected too', () => {
    expect(refused(['.GitHub/Workflows/x.yml', 'PACKAGE.JSON'])).toHaveLength(2);
  });

  it('let ordinary source files through', () => {
    expect(
      refused(['src/config.mjs', 'README.md', 'docs/guide.md', 'src/.eslintrc.json', '.gitignore']),
    ).toEqual([]);
  });

  it('are lifted only where allowPaths says', () => {
    expect(refused(['package.json', 'api/package.json'], ['package.json'])).toEqual(['api/package.json']);
    expect(refused(['.github/workflows/ci.yml'], ['.github/workflows/**'])).toEqual([]);
  });

  it('know which paths need the workflow scope', () => {
    expect(isWorkflowPath('.github/workflows/ci.yml')).toBe(true);
    expect(isWorkflowPath('.github/dependabot.yml')).toBe(false);
  });
});
