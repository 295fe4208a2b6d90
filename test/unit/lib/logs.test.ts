import { describe, expect, it } from 'vitest';
import { collapse, cutLabels, cutLine, maskLine, shapeLogs } from '../../../src/lib/logs.ts';

const T0 = 1_764_000_000;

describe('maskLine', () => {
  it('masks numbers, ids, addresses and times so repeats of one message compare equal', () => {
    // The status code after the request stays: a 500 is not a repeat of a 200.
    expect(maskLine('GET /predict?symbol=ACME 500 in 231.5ms req=9f86d081884c7d65 from 10.0.3.7:5123')).toBe(
      'GET /predict?symbol=ACME 500 in <n>ms req=<hex> from <ip>',
    );
    expect(maskLine('{"ts":"2026-11-24T10:00:01.123Z","id":"123e4567-e89b-12d3-a456-426614174000"}')).toBe(
      '{"ts":"<time>","id":"<uuid>"}',
    );
  });

  it('keeps HTTP status codes where logs write them, and masks the other numbers', () => {
    expect(maskLine('10.0.0.6 - - "POST /api/checkout HTTP/1.1" 502 0 261ms')).toBe(
      '<ip> - - "POST /api/checkout HTTP/<n>" 502 <n> <n>ms',
    );
    expect(maskLine('{"msg":"request","status":503,"duration_ms":12}')).toBe(
      '{"msg":"request","status":503,"duration_ms":<n>}',
    );
    expect(maskLine('level=error status_code="504" Code: 404 took=500ms')).toBe(
      'level=error status_code="504" Code: 404 took=<n>ms',
    );
    expect(maskLine('GET /items/7 HTTP/1.1 201 5120 bytes')).toBe('GET /items/<n> HTTP/<n> 201 <n> bytes');
    // Not a status: a 4-digit value, a fraction, a duration, a number no request precedes.
    expect(maskLine('status=5020 code=500.5 GET /x 200ms retried 500 times')).toBe(
      'status=<n> code=<n> GET /x <n>ms retried <n> times',
    );
  });

  it('keeps the status of axios, Gin and plain-words logs, and no count after a lower-case path', () => {
    expect(maskLine('AxiosError: Request failed with status code 503')).toBe(
      'AxiosError: Request failed with status code 503',
    );
    expect(maskLine('[GIN] 2026/12/01 - 10:00:01 | 502 |  1.2ms | 10.0.0.1 | GET "/predict"')).toBe(
      '[GIN] <n>/<n>/<n> - <n>:<n>:<n> | 502 |  <n>ms | <ip> | GET "/predict"',
    );
    expect(maskLine('upstream returned status 502; HTTP 504 from the gateway')).toBe(
      'upstream returned status 502; HTTP 504 from the gateway',
    );
    expect(maskLine('get /var/lib/data 404 times')).toBe('get /var/lib/data <n> times');
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
        text: 'timeout after <29..31>s talking to <ip>',
        count: 3,
        first: '2025-11-24T16:00:00Z',
        last: '2025-11-24T16:00:05Z',
      },
      { text: 'model refreshed', count: 1, first: '2025-11-24T16:00:01Z' },
    ]);
  });

  it("writes what differs between a group's lines as placeholders and ranges, not as the first line's values", () => {
    const lines = Array.from({ length: 20 }, (_, i) => ({
      t: T0 + i * 5,
      line: `level=error msg="connect failed" upstream=10.0.${i < 18 ? 1 : 9}.${i % 3}:5432 latency_ms=${100 + i * 37} pool=3 status=503`,
    }));
    expect(collapse(lines.toReversed(), 400)).toEqual([
      {
        text: 'level=error msg="connect failed" upstream=<ip> latency_ms=<100..803> pool=3 status=503',
        count: 20,
        first: '2025-11-24T16:00:00Z',
        last: '2025-11-24T16:01:35Z',
      },
    ]);
    // What every line shares stays as written, ids and times included.
    const same = [0, 1].map(i => ({
      t: T0 + i,
      line: 'retry 3 of job 9f86d081884c7d65 at 2026-11-24T10:00:01Z',
    }));
    expect(collapse(same, 400)[0]?.text).toBe('retry 3 of job 9f86d081884c7d65 at 2026-11-24T10:00:01Z');
    const mixed = [
      { t: T0, line: 'job 9f86d081884c7d65 took 12ms' },
      { t: T0 + 1, line: 'job 0a1b2c3d4e5f6789 took 12ms' },
    ];
    expect(collapse(mixed, 400)[0]?.text).toBe('job <hex> took 12ms');
  });

  it('reads a hyphen after a word as a separator, not a minus sign, and never shows a range of one value', () => {
    const text = (...lines: string[]) =>
      collapse(
        lines.map((line, i) => ({ t: T0 + i, line })),
        400,
      )[0]?.text;
    expect(text('job ran on 2024-01-05 ok', 'job ran on 2024-01-06 ok')).toBe(
      'job ran on 2024-01-<05..06> ok',
    );
    expect(text('pod web-17 restarted', 'pod web-18 restarted')).toBe('pod web-<17..18> restarted');
    expect(text('retry-3 failed', 'retry-4 failed')).toBe('retry-<3..4> failed');
    // A minus sign stays one.
    expect(text('temp -5 C', 'temp 3 C', 'temp -12 C')).toBe('temp <-12..3> C');
    // 007 and 7 are one number written two ways: the lines differ, and a range would hide it.
    expect(text('id 007 x', 'id 7 x')).toBe('id <n> x');
    expect(text('v a.-5', 'v a.6')).toBe('v a.<n>');
    // Only the text shown changes: the lines group as before.
    expect(maskLine('job ran on 2024-01-05 ok')).toBe('job ran on <n><n><n> ok');
  });

  it('never counts a 5xx line in a group that shows a 2xx one', () => {
    const lines = Array.from({ length: 40 }, (_, i) => {
      const status = i % 20 === 7 ? 502 : 200;
      return {
        t: T0 + i,
        line: `10.0.0.${i % 9} - - "POST /api/checkout HTTP/1.1" ${status} ${status === 200 ? 512 + i : 0} ${i * 3}ms`,
      };
    });
    const groups = collapse(lines, 400);
    expect(groups.map(g => [/" (\d{3}) /.exec(g.text)?.[1], g.count])).toEqual([
      ['200', 38],
      ['502', 2],
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

  it("pays for a stream's labels with its first group, so that many streams still show lines", () => {
    // 40 streams of one line each, with about 300 bytes of labels: all their labels are more than the budget.
    const streams = Array.from({ length: 40 }, (_, i) => ({
      labels: {
        app: 'checkout',
        pod: `checkout-${i}`,
        filename: `/var/log/pods/${'x'.repeat(250)}/${i}.log`,
      },
      lines: [{ t: T0 + i, line: `level=error msg="payment provider timeout" n=${i}` }],
    }));
    const shaped = shapeLogs(streams, { maxBytes: 8192, maxLineChars: 400, baseBytes: 200 });
    expect(shaped.groups_shown).toBeGreaterThanOrEqual(15);
    expect(shaped.streams).toHaveLength(shaped.groups_shown);
    expect(Buffer.byteLength(JSON.stringify(shaped))).toBeLessThanOrEqual(8192 - 200);
  });

  it('cuts long labels, and leaves out shared ones past half the budget rather than every line', () => {
    const long = 'v'.repeat(2000);
    expect(cutLabels({ a: long, b: 'short' }, 200)).toEqual({ a: cutLine(long, 200), b: 'short' });
    const shared = Object.fromEntries(Array.from({ length: 30 }, (_, k) => [`label_${k}`, `${k}${long}`]));
    const streams = ['1', '2'].map(x => ({
      labels: { ...shared, x },
      lines: [{ t: T0, line: `hello world ${x}` }],
    }));
    const shaped = shapeLogs(streams, { maxBytes: 8192, maxLineChars: 400, baseBytes: 200 });
    expect(shaped.groups_shown).toBe(2);
    const kept = Object.keys(shaped.common_labels ?? {}).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(30);
    expect(shaped.truncated).toBe(true);
    expect(shaped.note).toBe(`${30 - kept} labels all streams share are left out to fit.`);
    expect(Buffer.byteLength(JSON.stringify(shaped))).toBeLessThanOrEqual(8192 - 200);
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
