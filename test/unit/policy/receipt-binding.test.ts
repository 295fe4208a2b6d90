import { describe, expect, it } from 'vitest';
import { changeSchema, gitBlobSha, hashChanges } from '../../../src/policy/changes.ts';
import { createReceipts } from '../../../src/policy/receipts.ts';

describe('what a receipt binds', () => {
  it('hashes content, not the expected sha: the base commit already fixes every blob at base', () => {
    const sha = gitBlobSha(Buffer.from('old\n'));
    const without = changeSchema.parse({ path: 'a.txt', action: 'update', content: 'new\n' });
    const withSha = changeSchema.parse({ path: 'a.txt', action: 'update', content: 'new\n', sha });
    expect(hashChanges([withSha])).toBe(hashChanges([without]));
    expect(hashChanges([withSha])).not.toBe(
      hashChanges([changeSchema.parse({ path: 'a.txt', action: 'update', content: 'newer\n', sha })]),
    );
  });

  it('refuses a sha that is not 40 hex digits', () => {
    expect(changeSchema.safeParse({ path: 'a', action: 'update', content: 'x', sha: 'HEAD' }).success).toBe(
      false,
    );
  });

  it("accepts a receipt for any one of the policy's commands, and no other", () => {
    const receipts = createReceipts({ key: 'k'.repeat(32), ttlSeconds: 60, now: () => 1000 });
    const claims = { repo: 'acme/x', baseCommit: 'abc', changesHash: 'sha256:1' };
    const token = receipts.issue({ ...claims, command: 'npm test' });
    expect(receipts.verify(token, { ...claims, command: ['node --test', 'npm test'] }).command).toBe(
      'npm test',
    );
    expect(() => receipts.verify(token, { ...claims, command: ['node --test'] })).toThrow(/another command/);
  });
});
