import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStorePrQuota } from '../../../src/policy/pr-quota.ts';
import { openStore, type Store } from '../../../src/store/index.ts';

const OPTIONS = {
  busyTimeoutMs: 5000,
  groupBy: ['service'],
  quietSeconds: 60,
  windowSeconds: 600,
  timelineMax: 500,
};

let dir: string;
const stores: Store[] = [];
const open = (path = ':memory:') => {
  const store = openStore({ path, ...OPTIONS });
  stores.push(store);
  return createStorePrQuota(() => Promise.resolve(store));
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'devops-mcp-quota-'));
});
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the hourly PR quota', () => {
  it('allows perHour PRs per repository in any hour, then says when the next slot frees', async () => {
    const quota = open();
    expect('release' in (await quota.take('acme/x', 2, 1000))).toBe(true);
    expect('release' in (await quota.take('ACME/x', 2, 1100))).toBe(true);
    expect(await quota.take('acme/x', 2, 1200)).toEqual({ retryAfterSeconds: 3400 });
    expect('release' in (await quota.take('acme/other', 2, 1200))).toBe(true);
    expect('release' in (await quota.take('acme/x', 2, 4601))).toBe(true);
  });

  it('gives a slot back when the call wrote nothing', async () => {
    const quota = open();
    const slot = await quota.take('acme/x', 1, 1000);
    if (!('release' in slot)) throw new Error('expected a slot');
    slot.release();
    expect('release' in (await quota.take('acme/x', 1, 1001))).toBe(true);
  });

  it('is one quota for every process on the file, and outlives a restart', async () => {
    const path = join(dir, 'shared.db');
    const a = open(path);
    const b = open(path);
    expect('release' in (await a.take('acme/x', 2, 1000))).toBe(true);
    expect('release' in (await b.take('acme/x', 2, 1010))).toBe(true);
    expect(await a.take('acme/x', 2, 1020)).toEqual({ retryAfterSeconds: 3580 });
    for (const store of stores.splice(0)) store.close();
    expect(await open(path).take('acme/x', 2, 1030)).toEqual({ retryAfterSeconds: 3570 });
  });
});
