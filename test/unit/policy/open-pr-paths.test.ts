// checkPath refuses every spelling of .git that git's own verify_path refuses on checkout (core.protectNTFS,
// core.protectHFS): a merged PR holding one would break every checkout of the branch.
import { describe, expect, it } from 'vitest';
import { checkPath } from '../../../src/policy/changes.ts';

const refused = (path: string) => {
  try {
    checkPath(path);
    return false;
  } catch (error) {
    return (error as { code?: string }).code === 'PATH_INVALID';
  }
};

describe('checkPath and .git', () => {
  it('refuses the NTFS spellings of .git: trailing dots and spaces, a stream name, the 8.3 short name', () => {
    for (const path of [
      'src/.git./config',
      '.git /x',
      '.GIT. . /HEAD',
      'a/.git::$INDEX_ALLOCATION/x',
      '.git:stream',
      'src/GIT~1/HEAD',
      'git~1',
      'Git~1. /x',
    ]) {
      expect(refused(path), JSON.stringify(path)).toBe(true);
    }
  });

  it('refuses the HFS+ spellings of .git: code points HFS+ ignores, any case', () => {
    for (const path of [
      '.g\u200cit/config',
      'src/\u200e.GIT',
      '.gi\u202et',
      '.git\ufeff/x',
      '\u206a.g\u200di\u200ft',
    ]) {
      expect(refused(path), JSON.stringify(path)).toBe(true);
    }
  });

  it('lets names pass that only look close to .git, as git does', () => {
    for (const path of [
      '.gitignore',
      '.git~1/x',
      'src/.gitkeep',
      'git~2/x',
      'git/x',
      '.g\u200bit/x',
      'x.git',
      '.gitx',
    ]) {
      expect(refused(path), JSON.stringify(path)).toBe(false);
    }
  });
});
