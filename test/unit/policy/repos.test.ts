import { describe, expect, it } from 'vitest';
import { checkRepoAllowed, foldName, repoAllowed } from '../../../src/policy/repos.ts';

const allowed = ['acme/market-predictor', 'tools/*'];

describe('the repository allow-list', () => {
  it('matches owner/repo and owner/* case-insensitively', () => {
    expect(repoAllowed('ACME/Market-Predictor', allowed)).toBe(true);
    expect(repoAllowed('tools/anything', allowed)).toBe(true);
    expect(repoAllowed('tools/..', allowed)).toBe(false);
    expect(repoAllowed('acme/market-predictor/extra', allowed)).toBe(false);
  });

  it.each([
    ['аcme/market-predictor', 'Cyrillic а'],
    ['acme/market-prеdictor', 'Cyrillic е'],
    ['ａｃｍｅ/market-predictor', 'full-width letters'],
    ['acme/market\u2010predictor', 'a Unicode hyphen'],
    ['acme/market-predictor\u200b', 'a zero-width space'],
    ['acme/market-predıctor', 'dotless i'],
    ['acme／market-predictor', 'a full-width slash'],
  ])('refuses the look-alike %j (%s), naming it as one', (name, _why) => {
    expect(repoAllowed(name, allowed)).toBe(false);
    expect(foldName(name)).toBe('acme/market-predictor');
    expect(() => {
      checkRepoAllowed(name, allowed);
    }).toThrow(/only looks like acme\/market-predictor/);
  });

  it('refuses an unrelated name plainly', () => {
    expect(() => {
      checkRepoAllowed('evil/repo', allowed);
    }).toThrow(/^evil\/repo is not on the allow-list\.$/);
  });
});
