import { describe, expect, it } from 'vitest';
import { checkChanges, checkPath, hashChanges, type Change } from '../../src/policy/changes.ts';
import { createReceipts } from '../../src/policy/receipts.ts';
import { repoAllowed } from '../../src/policy/repos.ts';

const limits = { maxFiles: 3, maxFileBytes: 10, maxTotalBytes: 15 };
const change = (path: string, content = 'x'): Change => ({
  path,
  action: 'create',
  content,
  encoding: 'utf8',
});

describe('repoAllowed', () => {
  it('matches owner/repo and owner/* case-insensitively, and nothing else', () => {
    expect(repoAllowed('Acme/Market-Predictor', ['acme/market-predictor'])).toBe(true);
    expect(repoAllowed('acme/anything', ['acme/*'])).toBe(true);
    expect(repoAllowed('acme-evil/x', ['acme/*'])).toBe(false);
    expect(repoAllowed('acme/market-predictor-fork', ['acme/market-predictor'])).toBe(false);
    expect(repoAllowed('acme', ['acme/*'])).toBe(false);
  });
});

describe('change paths', () => {
  it('accepts relative POSIX paths', () => {
    expect(checkPath('src/config.mjs')).toBe('src/config.mjs');
  });

  it.each([
    ['../x', /"\.\." segment/],
    ['a/../../x', /"\.\." segment/],
    ['/etc/passwd', /is absolute/],
    ['C:/x', /is absolute/],
    ['a\\b', /backslashes/],
    ['.git/hooks/pre-commit', /inside \.git/],
    ['a/.GIT/config', /inside \.git/],
    ['a//b', /empty/],
    ['a\u0000b', /control characters/],
    ['cafe\u0301.txt', /NFC/],
  ])('refuses %j', (path, why) => {
    expect(() => checkPath(path)).toThrow(why);
  });

  it('refuses duplicates, case collisions, missing content and oversize sets', () => {
    expect(() => {
      checkChanges([change('a'), change('A')], limits);
    }).toThrow(/name the same file/);
    expect(() => {
      checkChanges([{ path: 'a', action: 'update', encoding: 'utf8' }], limits);
    }).toThrow(/has no content/);
    expect(() => {
      checkChanges([change('a'), change('b'), change('c'), change('d')], limits);
    }).toThrow(/at most 3/);
    expect(() => {
      checkChanges([change('a', 'x'.repeat(11))], limits);
    }).toThrow(/at most 10 per file/);
    expect(() => {
      checkChanges([change('a', 'x'.repeat(8)), change('b', 'x'.repeat(8))], limits);
    }).toThrow(/at most 15 in all/);
    expect(() => {
      checkChanges([], limits);
    }).toThrow(/empty/);
  });

  it('takes base64 content only when it is base64, padded or not', () => {
    const b64 = (content: string): Change => ({ path: 'a', action: 'create', encoding: 'base64', content });
    for (const good of ['aGk=', 'aGk', 'AA==', '', 'aGVsbG8K'])
      expect(() => {
        checkChanges([b64(good)], limits);
      }).not.toThrow();
    for (const bad of ['not base64!', 'aGk=\n', 'a', 'aG=k', 'aGk==='])
      expect(() => {
        checkChanges([b64(bad)], limits);
      }, bad).toThrow(/is not base64/);
  });

  it('hashes the exact change set, whatever the order', () => {
    const a = [change('a', '1'), change('b', '2')];
    expect(hashChanges(a)).toBe(hashChanges([...a].reverse()));
    expect(hashChanges(a)).not.toBe(hashChanges([change('a', '1'), change('b', '3')]));
  });
});

describe('receipts', () => {
  const claims = { repo: 'acme/x', baseCommit: 'abc', changesHash: 'sha256:1', command: 'node --test' };
  let now = 1000;
  const receipts = createReceipts({ key: 'k'.repeat(32), ttlSeconds: 60, now: () => now });

  it('verifies its own receipt for the same claims', () => {
    expect(receipts.verify(receipts.issue(claims), claims)).toEqual(claims);
  });

  it('refuses another change set, a forged signature, another key and an expired receipt', () => {
    const token = receipts.issue(claims);
    expect(() => receipts.verify(token, { ...claims, changesHash: 'sha256:2' })).toThrow(
      /another changesHash/,
    );
    const [prefix, body] = token.split('.');
    expect(() => receipts.verify(`${prefix}.${body}.AAAA`, claims)).toThrow(/not signed by this server/);
    const other = createReceipts({ key: 'z'.repeat(32), ttlSeconds: 60, now: () => now });
    expect(() => other.verify(token, claims)).toThrow(/not signed by this server/);
    now += 61;
    expect(() => receipts.verify(token, claims)).toThrow(/expired/);
    expect(() => receipts.verify('garbage', claims)).toThrow(/malformed/);
  });
});
