import { describe, expect, it } from 'vitest';
import { collapse, cutLine, maskLine, shapeLogs } from '../../../src/lib/logs.ts';

const T0 = 1_764_000_000;

describe('maskLine', () => {
  it('masks numbers, ids, addresses and times so repeats of one message compare equal', () => {
    expect(maskLine('GET /predict?symbol=ACME 500 in 231.5ms req=9f86d081884c7d65 from 10.0.3.7:5123')).toBe(
      'GET /predict?symbol=ACME <n> in <n>ms req=<hex> from <ip>',
    );
    expect(maskLine('{"ts":"2026-11-24T10:00:01.123Z","id":"123e4567-e89b-12d3-a456-426614174000"}')).toBe(
      '{"ts":"<time>","id":"<uuid>"}',
    );
  });
});

describe('collapse', () => {
  it('counts repeats with their first and last time, in order of first appearance', () => {
    const lines = [
      { t: T0, line: 'timeout after 30s talking to 10.0.0.1' },
      { t: T0 + 1, line: 'model refreshed' },
      { t: T0 + 2, line: 'timeout after 31s talking to 10.0.0.2' },
      { t: T0 + 5, line: 'timeout after 29s talking to 10.0.0.9' },
    ];
    expect(collapse(lines, 400)).toEqual([
      {
        text: 'timeout after 30s talking to 10.0.0.1',
        count: 3,
        first: '2025-11-24T16:00:00Z',
        last: '2025-11-24T16:00:05Z',
      },
      { text: 'model refreshed', count: 1, first: '2025-11-24T16:00:01Z' },
    ]);
  });

  it('cuts long lines and says by how much', () => {
    expect(cutLine('x'.repeat(450), 400)).toBe(`${'x'.repeat(400)}… [+50 chars]`);
  });

  it('never cuts between the halves of a surrogate pair', () => {
    // '😀' is two UTF-16 units: a cut at 400 would fall inside the 200th.
    const cut = cutLine(`x${'😀'.repeat(300)}`, 400);
    expect(cut).toBe(`x${'😀'.repeat(199)}… [+202 chars]`);
    expect(Buffer.from(cut).toString()).toBe(cut); // a lone surrogate would decode as U+FFFD
  });
});

describe('shapeLogs', () => {
  it('hoists shared labels, stays within the budget and says what it left out', () => {
    const streams = [0, 1, 2].map(i => ({
      labels: { app: 'predictor', pod: `pod-${i}` },
      lines: Array.from({ length: 300 }, (_, k) => ({
        t: T0 + k,
        line: `distinct message ${'abcdefghij'[k % 10]}${k}x${i} ${'y'.repeat(80)}`,
      })),
    }));
    const shaped = shapeLogs(streams, { maxBytes: 8192, maxLineChars: 400, baseBytes: 200 });
    expect(shaped.common_labels).toEqual({ app: 'predictor' });
    expect(JSON.stringify(shaped).length).toBeLessThanOrEqual(8192 - 200);
    expect(shaped.truncated).toBe(true);
    expect(shaped.groups_total).toBe(900);
    // Every stream gets its share.
    expect(shaped.streams.map(s => s.labels.pod)).toEqual(['pod-0', 'pod-1', 'pod-2']);
    expect(shaped.note).toMatch(/Showing \d+ of 900 distinct messages/);
  });

  it('counts the budget in UTF-8 bytes, so non-ASCII lines stay within it too', () => {
    const streams = [
      {
        labels: { app: 'api' },
        lines: Array.from({ length: 300 }, (_, k) => ({
          t: T0 + k,
          line: `ошибка ${String.fromCharCode(0x4e00 + k)}${'界'.repeat(380)}${'😀'.repeat(40)} ${k}`,
        })),
      },
    ];
    const shaped = shapeLogs(streams, { maxBytes: 8192, maxLineChars: 400, baseBytes: 200 });
    expect(shaped.truncated).toBe(true);
    expect(shaped.groups_shown).toBeGreaterThan(0);
    expect(Buffer.byteLength(JSON.stringify(shaped))).toBeLessThanOrEqual(8192 - 200);
  });
});
