import { describe, expect, it } from 'vitest';
import { createMemoryPrQuota } from '../../../src/policy/pr-quota.ts';

describe('the hourly PR quota', () => {
  it('allows perHour PRs per repository in any hour, then says when the next slot frees', () => {
    const quota = createMemoryPrQuota();
    expect('release' in quota.take('acme/x', 2, 1000)).toBe(true);
    expect('release' in quota.take('ACME/x', 2, 1100)).toBe(true);
    expect(quota.take('acme/x', 2, 1200)).toEqual({ retryAfterSeconds: 3400 });
    expect('release' in quota.take('acme/other', 2, 1200)).toBe(true);
    expect('release' in quota.take('acme/x', 2, 4601)).toBe(true);
  });

  it('gives a slot back when the call wrote nothing', () => {
    const quota = createMemoryPrQuota();
    const slot = quota.take('acme/x', 1, 1000);
    if (!('release' in slot)) throw new Error('expected a slot');
    slot.release();
    expect('release' in quota.take('acme/x', 1, 1001)).toBe(true);
  });
});
