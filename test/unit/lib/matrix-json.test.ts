import { describe, expect, it } from 'vitest';
import { readMatrixAnswer } from '../../../src/lib/matrix-json.ts';
import { columnsOf } from '../../../src/lib/series.ts';

const answer = (result: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ status: 'success', data: { resultType: 'matrix', result }, ...extra });

describe('readMatrixAnswer', () => {
  it('reads what JSON.parse reads, as columns, special values included', () => {
    const result = [
      {
        metric: { __name__: 'up', job: 'api', note: 'quote " and \\u00e9 and \\\\' },
        values: [
          [1764000000.123, '1'],
          [1764000001, 'NaN'],
          [1764000002, '+Inf'],
          [1764000003, '-Inf'],
          [1764000004, '1.5e-7'],
        ],
      },
      { metric: {}, values: [] },
    ];
    const text = answer(result, { warnings: ['PromQL info: metric might not be a counter'] });
    const read = readMatrixAnswer(Buffer.from(text));
    const parsed = JSON.parse(text) as { data: { result: typeof result } };
    expect(read?.warnings).toEqual(['PromQL info: metric might not be a counter']);
    expect(read?.result.map(s => s.metric)).toEqual(parsed.data.result.map(s => s.metric));
    const expected = columnsOf(parsed.data.result[0]?.values as Array<[number, string]>);
    expect(Array.from(read?.result[0]?.samples.t ?? [])).toEqual(Array.from(expected.t));
    expect(Array.from(read?.result[0]?.samples.v ?? [])).toEqual(Array.from(expected.v));
    expect(read?.result[1]?.samples.t.length).toBe(0);
  });

  it('carries infos as it carries warnings', () => {
    const text = answer([], { warnings: ['w'], infos: ['PromQL info: metric might not be a counter'] });
    expect(readMatrixAnswer(Buffer.from(text))).toEqual({
      result: [],
      warnings: ['w'],
      infos: ['PromQL info: metric might not be a counter'],
    });
  });

  it('grows past its first allocation and accepts whitespace and any key order', () => {
    const values = Array.from({ length: 1000 }, (_, i) => `[ ${1764000000 + i} , "${i}" ]`).join(',\n');
    const text = `{ "data" : { "result" : [ { "values" : [ ${values} ] , "metric" : { "a" : "b" } } ], "resultType" : "matrix" }, "infos": [], "status" : "success" }`;
    const read = readMatrixAnswer(Buffer.from(text), 10);
    expect(read?.result[0]?.samples.v.length).toBe(1000);
    expect(read?.result[0]?.samples.v[999]).toBe(999);
    expect(read?.result[0]?.samples.t[999]).toBe(1764000999);
  });

  it('leaves everything else to the generic path', () => {
    const vector = JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } });
    const error = JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' });
    const histograms = answer([{ metric: {}, histograms: [[1, { count: '1', sum: '1' }]] }]);
    for (const text of [
      vector,
      error,
      histograms,
      answer([{ metric: { a: 1 }, values: [] }]),
      answer([{ metric: {}, values: [[1, 2]] }]),
      answer([{ metric: {}, values: [['1', '2']] }]),
      `${answer([])}garbage`,
      answer([]).slice(0, -3),
      '',
      'null',
    ]) {
      expect(readMatrixAnswer(Buffer.from(text)), text).toBeUndefined();
    }
  });

  it('reads every decimal as Number() does, times and values alike', () => {
    // Every shape Prometheus writes: integers, millisecond times, shortest round-trip decimals (up to 17
    // digits), negative zero, tiny and huge magnitudes, exponents; and random ones around them.
    const decimals = [
      '0',
      '-0',
      '1',
      '-1',
      '0.1',
      '0.30000000000000004',
      '1764000000.123',
      '1764000000.1',
      '9007199254740993',
      '123456789012345',
      '1234567890123456',
      '0.000000000000000000000001',
      '0.0000000000000000000001',
      '1e-7',
      '1.5E+300',
      '-2.5e-3',
      '4.35',
      '0.000001',
      '100000000000000000000000',
      '2.2250738585072014e-308',
      '1.7976931348623157e308',
    ];
    for (let i = 0; i < 2000; i++) {
      const value = (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 40 - 20);
      decimals.push(String(value), value.toFixed(Math.floor(Math.random() * 8)));
    }
    const pairs = decimals.map((d, i) => `[${decimals[decimals.length - 1 - i] ?? '0'},"${d}"]`).join(',');
    const text = `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[${pairs}]}]}}`;
    const samples = readMatrixAnswer(Buffer.from(text), 4)?.result[0]?.samples;
    expect(samples?.v.length).toBe(decimals.length);
    decimals.forEach((d, i) => {
      expect(Object.is(samples?.v[i], Number(d)), `value ${d}`).toBe(true);
      expect(Object.is(samples?.t[decimals.length - 1 - i], Number(d)), `time ${d}`).toBe(true);
    });
  });

  it('decodes UTF-8 label values', () => {
    const text = answer([{ metric: { city: 'Zürich', note: '温度' }, values: [[1, '2']] }]);
    expect(readMatrixAnswer(Buffer.from(text))?.result[0]?.metric).toEqual({ city: 'Zürich', note: '温度' });
  });

  it('reserves memory for the points that came, not for every series at the full range', () => {
    const series = Array.from(
      { length: 2000 },
      (_, i) => `{"metric":{"i":"${i}"},"values":[[1764000000,"1"]]}`,
    );
    const text = `{"status":"success","data":{"resultType":"matrix","result":[${series.join(',')}]}}`;
    const read = readMatrixAnswer(Buffer.from(text), 10_000);
    const reserved = (read?.result ?? []).reduce(
      (sum, s) => sum + s.samples.t.buffer.byteLength + s.samples.v.buffer.byteLength,
      0,
    );
    expect(read?.result.length).toBe(2000);
    // 2,000 series × 2 columns × 10,000 points × 8 bytes would be 320 MB.
    expect(reserved).toBeLessThan(2000 * 2 * 16 * 8 + 1);
  });

  it('grows by doubling past the expected points, never by one sample at a time', () => {
    const values = Array.from({ length: 5000 }, (_, i) => `[${1764000000 + i},"${i}"]`).join(',');
    const text = `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[${values}]}]}}`;
    const samples = readMatrixAnswer(Buffer.from(text), 100)?.result[0]?.samples;
    expect(samples?.v.length).toBe(5000);
    expect(samples?.v[4999]).toBe(4999);
    // Doubling from 100: 6,400 at most; growing by one would end at exactly 5,000.
    expect(samples?.t.buffer.byteLength).toBeGreaterThan(5000 * 8);
  });
});
