import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { headBranch, refNameProblem } from '../../../src/policy/branches.ts';

const gitAccepts = (name: string): boolean => {
  try {
    execFileSync('git', ['check-ref-format', `refs/heads/${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

describe('head branch names', () => {
  it('puts the slug under the prefix, once', () => {
    expect(headBranch('fix-latency', 'devops-mcp/')).toBe('devops-mcp/fix-latency');
    expect(headBranch('devops-mcp/fix-latency', 'devops-mcp/')).toBe('devops-mcp/fix-latency');
    expect(headBranch('incident/42', 'bot/')).toBe('bot/incident/42');
  });

  it.each([
    ['main', false],
    ['a..b', true],
    ['a b', true],
    ['a~1', true],
    ['a^', true],
    ['a:b', true],
    ['a?', true],
    ['a*', true],
    ['a[b', true],
    ['a\\b', true],
    ['x.lock', true],
    ['x/.hidden', true],
    ['x/', true],
    ['x//y', true],
    ['x.', true],
    ['a@{1}', true],
    ['ѕecurity-fix', true],
    ['fix\u200b', true],
    ['', true],
  ])('slug %j is refused: %s', (slug, refused) => {
    if (refused) expect(() => headBranch(slug, 'devops-mcp/')).toThrow(/^The branch/);
    else expect(headBranch(slug, 'devops-mcp/')).toBe(`devops-mcp/${slug}`);
  });

  it('is never laxer than git check-ref-format (and also refuses a leading "-" and a bare "@")', () => {
    const names = [
      'ok/name',
      'a..b',
      'a.lock',
      'a/.b',
      'a//b',
      'a.',
      '-x',
      'a@{b',
      'a b',
      'a~b',
      'x/y.z',
      '@',
      'a\tb',
    ];
    for (const name of names) {
      if (refNameProblem(name) === undefined) expect(gitAccepts(name), name).toBe(true);
      else expect(gitAccepts(name) && name !== '-x' && name !== '@', name).toBe(false);
    }
  });
});
