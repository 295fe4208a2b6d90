import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../../src/lib/logger.ts';
import { openStore, type Store } from '../../../src/store/index.ts';
import { rowHash, type RowFields } from '../../../src/store/audit.ts';
import { auditArgs, createAuditRecorder } from '../../../src/store/recorder.ts';
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
    expect(store.audit.verify()).toEqual({ ok: true, rows: 5, head: rows[4]?.hash, anchored: false });
  });

  it('stays intact when a name holds a lone surrogate, which SQLite cannot keep as text', () => {
    store.audit.append({
      at: 2000,
      tool: 'nope\ud800',
      client: 'c\udc00/1',
      session: 's\ud800',
      args: '{}',
      outcome: 'error',
      code: 'UNKNOWN_TOOL',
      ms: 0,
    });
    store.audit.append({ at: 2001, tool: 'list_incidents', args: '{}', outcome: 'ok', ms: 1 });
    expect(store.audit.verify()).toMatchObject({ ok: true, rows: 7 });
    expect(store.audit.get(6)).toMatchObject({ tool: 'nope\ufffd', client: 'c\ufffd/1' });
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

describe('the audit log in a file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'devops-mcp-audit-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const fileStore = (name: string) =>
    openStore({
      path: join(dir, name),
      busyTimeoutMs: 1000,
      groupBy: ['service'],
      quietSeconds: 0,
      windowSeconds: 0,
      timelineMax: 10,
    });
  const entry = (i: number) => ({
    at: 1000 + i,
    tool: i === 5 ? 'open_pr' : 'query_prometheus',
    args: '{}',
    outcome: 'ok' as const,
    ms: 1,
  });

  it('notices rows cut from the end, which leave a valid chain behind', () => {
    const file = fileStore('cut.db');
    for (let i = 1; i <= 5; i++) file.audit.append(entry(i));
    expect(file.audit.verify()).toMatchObject({ ok: true, rows: 5, anchored: true });
    file.db.exec('DELETE FROM audit WHERE id >= 4');
    expect(file.audit.verify()).toMatchObject({
      ok: false,
      row: 4,
      problem: expect.stringMatching(/^rows 4–5 were removed from the end/),
    });
    file.db.exec('DELETE FROM audit');
    expect(file.audit.verify()).toMatchObject({ ok: false, row: 1 });
    file.close();
  });

  it('notices a newest row replaced with a recomputed hash', () => {
    const file = fileStore('replaced.db');
    for (let i = 1; i <= 5; i++) file.audit.append(entry(i));
    const row4 = file.audit.get(4);
    const forged: RowFields = [5, 1005, 'query_prometheus', null, null, '{}', 'ok', null, 1];
    file.db
      .prepare('UPDATE audit SET tool = ?, hash = ? WHERE id = 5')
      .run('query_prometheus', rowHash(row4?.hash ?? '', forged));
    expect(file.audit.verify()).toMatchObject({
      ok: false,
      row: 5,
      problem: expect.stringMatching(/^row 5 was replaced/),
    });
    file.close();
  });

  it('reports an anchor file that does not read as one, instead of failing', () => {
    const file = fileStore('torn.db');
    file.audit.append(entry(1));
    writeFileSync(join(dir, 'torn.db.audit-head'), '{"id": 1, "ha');
    expect(file.audit.verify()).toMatchObject({
      ok: false,
      row: 2,
      problem: expect.stringMatching(/^rows 2 and later were removed from the end/),
    });
    file.close();
  });

  it('says when there is no anchor to vouch for the newest row', () => {
    const file = fileStore('unanchored.db');
    file.audit.append(entry(1));
    unlinkSync(join(dir, 'unanchored.db.audit-head'));
    expect(file.audit.verify()).toMatchObject({ ok: true, rows: 1, anchored: false });
    file.close();
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

  it('scrubs parameter names too, and cuts them, each parameter kept apart', () => {
    const kept = JSON.parse(
      auditArgs(
        { 's3cr3t-value': 1, 'x-s3cr3t-value': 2, ['k'.repeat(200_000)]: 3, ['k'.repeat(70)]: 4 },
        redact,
      ),
    );
    const cut = `${'k'.repeat(64)}… [+199936 chars]`;
    expect(kept).toEqual({
      '[REDACTED]': 1,
      'x-[REDACTED]': 2,
      [cut]: 3,
      [`${'k'.repeat(64)}… [+6 chars]`]: 4,
    });
    expect(JSON.parse(auditArgs({ 's3cr3t-value': 1, '[REDACTED]': 2 }, redact))).toEqual({
      '[REDACTED]': 1,
      '[REDACTED] #2': 2,
    });
    expect(auditArgs(null, redact)).toBe('null');
    // A name JSON allows and JavaScript objects treat specially is kept like any other.
    const sent: unknown = JSON.parse('{"query":"up","labels":{"__proto__":{"a":"b"},"b":1}}');
    expect(auditArgs(sent, redact)).toBe('{"query":"up","labels":{"__proto__":{"a":"b"},"b":1}}');
  });

  it('keeps a row small whatever was sent: past 4 KB of arguments, only their hash', () => {
    const many = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`p${i}`, i]));
    const kept = auditArgs(many, redact);
    const json = JSON.stringify(many);
    expect(JSON.parse(kept)).toEqual({
      sha256: createHash('sha256').update(json).digest('hex'),
      bytes: Buffer.byteLength(json),
    });
    // Ordinary arguments are kept as they are.
    expect(JSON.parse(auditArgs({ query: 'up', start: 'now-1h' }, redact))).toEqual({
      query: 'up',
      start: 'now-1h',
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

describe('arguments nested past what JSON.stringify can write', () => {
  const levels = 20_000;
  let deep: unknown = [];
  for (let i = 0; i < levels; i++) deep = [deep];
  // What the client sent for `query`, written out by hand: JSON.stringify itself overflows the stack on it.
  const sent = `${'['.repeat(levels + 1)}${']'.repeat(levels + 1)}`;

  it('are recorded by the hash of the JSON sent', () => {
    expect(JSON.parse(auditArgs({ query: deep, step: '1m' }, t => t))).toEqual({
      query: { sha256: createHash('sha256').update(sent).digest('hex'), bytes: sent.length },
      step: '1m',
    });
    const members = JSON.parse('{"a":{"b":[1,"x\\"y",null,{}],"c":true}}') as { a: { d?: unknown } };
    members.a.d = deep;
    const hashed = JSON.parse(auditArgs({ nested: [members] }, t => t)) as { nested: { sha256: string } };
    const json = `[{"a":{"b":[1,"x\\"y",null,{}],"c":true,"d":${sent}}}]`;
    expect(hashed.nested.sha256).toBe(createHash('sha256').update(json).digest('hex'));
  });

  it('keep the recorder writing: the row is kept, and so are the rows queued beside it', async () => {
    const errors: string[] = [];
    const recorder = createAuditRecorder({
      store: () => Promise.resolve(store),
      redact: t => t,
      now: () => 2000,
      logger: { error: (_fields: unknown, msg: string) => errors.push(msg) } as unknown as Logger,
    });
    recorder.record({ tool: 'query_prometheus', args: { query: deep }, outcome: 'error', ms: 1 });
    // Arguments no JSON can hold (none comes from a client): the call is still on record.
    recorder.record({ tool: 'list_incidents', args: { since: 10n }, outcome: 'ok', ms: 1 });
    recorder.record({ tool: 'get_incident', args: { id: 1 }, outcome: 'ok', ms: 1 });
    await recorder.flush();
    const rows = store.audit.tail(3);
    expect(rows.map(r => r.tool)).toEqual(['query_prometheus', 'list_incidents', 'get_incident']);
    expect(JSON.parse(rows[0]!.args)).toMatchObject({ query: { bytes: sent.length } });
    expect(JSON.parse(rows[1]!.args)).toEqual({ unrecorded: expect.stringContaining('BigInt') });
    expect(JSON.parse(rows[2]!.args)).toEqual({ id: 1 });
    expect(errors).toEqual(['could not render the arguments of an audit row']);
    expect(store.audit.verify()).toMatchObject({ ok: true });
  });
});

describe('the audit recorder, while the file stays locked', () => {
  let dir: string;
  let file: Store;
  let holder: DatabaseSync;
  let now: number;
  let logged: Array<{ msg: string; fields: Record<string, unknown> }>;
  let recorder: ReturnType<typeof createAuditRecorder>;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    dir = mkdtempSync(join(tmpdir(), 'devops-mcp-recorder-'));
    const path = join(dir, 'audit.db');
    file = openStore({
      path,
      busyTimeoutMs: 10,
      groupBy: ['service'],
      quietSeconds: 0,
      windowSeconds: 0,
      timelineMax: 10,
    });
    now = 1000;
    logged = [];
    const logger = {
      error: (fields: Record<string, unknown>, msg: string) => logged.push({ msg, fields }),
    } as unknown as Logger;
    recorder = createAuditRecorder({
      store: () => Promise.resolve(file),
      redact: t => t,
      now: () => now,
      logger,
    });
    // Another process holding the write lock past the busy timeout.
    holder = new DatabaseSync(path);
    holder.exec('BEGIN IMMEDIATE');
  });
  afterEach(() => {
    if (holder.isOpen) holder.close();
    file.close();
    rmSync(dir, { recursive: true, force: true });
    vi.useRealTimers();
  });

  const call = (tool: string, args: unknown = {}) => ({ tool, args, outcome: 'ok' as const, ms: 1 });
  const release = () => {
    holder.exec('COMMIT');
    holder.close();
  };

  it('keeps the rows it could not write, writes them once the file is free, and reports at most once a minute', async () => {
    recorder.record(call('open_pr'));
    await recorder.flush();
    recorder.record(call('run_sandbox_test'));
    await recorder.flush();
    now += 60;
    recorder.record(call('query_prometheus'));
    await recorder.flush();
    const failing = 'could not write the audit log; its rows wait for the next write';
    expect(logged.map(l => [l.msg, l.fields.failures, l.fields.waiting])).toEqual([
      [failing, 1, 1],
      [failing, 2, 3],
    ]);
    release();
    // Written by the retry, with no call since.
    await vi.advanceTimersByTimeAsync(1000);
    expect(file.audit.tail(10).map(r => r.tool)).toEqual(['open_pr', 'run_sandbox_test', 'query_prometheus']);
    expect(file.audit.verify()).toMatchObject({ ok: true, rows: 3 });
    expect(logged).toHaveLength(2);
  });

  it('keeps at most 10,000 rows waiting, dropping the oldest and saying how many', async () => {
    for (let n = 0; n < 10_050; n++) recorder.record(call('query_prometheus', { n }));
    await recorder.flush();
    release();
    await recorder.flush();
    expect(file.audit.verify()).toMatchObject({ ok: true, rows: 10_000 });
    expect(JSON.parse(file.audit.get(1)!.args)).toEqual({ n: 50 });
    expect(logged.reduce((sum, l) => sum + Number(l.fields.dropped ?? 0), 0)).toBe(50);
  });
});
