import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../src/store/index.ts';
import { auditArgs } from '../../../src/store/recorder.ts';
import { createRedactor } from '../../../src/lib/redact.ts';

let store: Store;
beforeEach(() => {
  store = openStore({
    path: ':memory:',
    busyTimeoutMs: 1000,
    groupBy: ['service'],
    quietSeconds: 0,
    windowSeconds: 0,
    timelineMax: 10,
  });
  for (let i = 1; i <= 5; i++) {
    store.audit.append({
      at: 1000 + i,
      tool: 'query_prometheus',
      client: 'claude-ai/1.0',
      session: undefined,
      args: JSON.stringify({ query: `up{n="${i}"}` }),
      outcome: i === 3 ? 'error' : 'ok',
      code: i === 3 ? 'QUERY_ERROR' : undefined,
      ms: 1.234 * i,
    });
  }
});
afterEach(() => {
  store.close();
});

describe('the audit log', () => {
  it('chains every row to the one before it', () => {
    const rows = store.audit.tail(10);
    expect(rows.map(r => r.id)).toEqual([1, 2, 3, 4, 5]);
    expect(rows[0]?.prev_hash).toBe('');
    for (let i = 1; i < rows.length; i++) expect(rows[i]?.prev_hash).toBe(rows[i - 1]?.hash);
    expect(store.audit.verify()).toEqual({ ok: true, rows: 5, head: rows[4]?.hash });
  });

  it('finds the first row altered with plain SQL', () => {
    store.db.exec(`UPDATE audit SET outcome = 'ok', code = NULL WHERE id = 3`);
    expect(store.audit.verify()).toMatchObject({
      ok: false,
      row: 3,
      problem: expect.stringMatching(/^row 3 was altered/),
    });
  });

  it('finds a row whose hash was recomputed too, through the next row', () => {
    const row4 = store.audit.get(4);
    store.db
      .prepare('UPDATE audit SET tool = ?, hash = ? WHERE id = 3')
      .run('open_pr', row4?.prev_hash.replace(/^./, '0') ?? '');
    expect(store.audit.verify()).toMatchObject({ ok: false, row: 3 });
  });

  it('finds removed rows', () => {
    store.db.exec('DELETE FROM audit WHERE id IN (2, 3)');
    expect(store.audit.verify()).toMatchObject({
      ok: false,
      row: 2,
      problem: 'rows 2–3 were removed (row 4 follows row 1)',
    });
  });
});

describe('arguments as the audit log keeps them', () => {
  const redact = createRedactor(['s3cr3t-value']);

  it('redacts secret-named fields and configured secret values', () => {
    expect(
      JSON.parse(auditArgs({ query: 'up{x="s3cr3t-value"}', token: 'abc', nested: { apiKey: 'k' } }, redact)),
    ).toEqual({
      query: 'up{x="[REDACTED]"}',
      token: '[REDACTED]',
      nested: { apiKey: '[REDACTED]' },
    });
  });

  it('replaces large values by their sha256', () => {
    const big = 'x'.repeat(10_000);
    const kept = JSON.parse(
      auditArgs({ content: big, list: Array.from({ length: 500 }, (_, i) => i) }, redact),
    );
    expect(kept.content).toEqual({ sha256: createHash('sha256').update(big).digest('hex'), chars: 10_000 });
    expect(kept.list).toMatchObject({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });
});
