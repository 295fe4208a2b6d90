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
    const read = readMatrixAnswer(text);
    const parsed = JSON.parse(text) as { data: { result: typeof result } };
    expect(read?.warnings).toEqual(['PromQL info: metric might not be a counter']);
    expect(read?.result.map(s => s.metric)).toEqual(parsed.data.result.map(s => s.metric));
    const expected = columnsOf(parsed.data.result[0]?.values as Array<[number, string]>);
    expect(Array.from(read?.result[0]?.samples.t ?? [])).toEqual(Array.from(expected.t));
    expect(Array.from(read?.result[0]?.samples.v ?? [])).toEqual(Array.from(expected.v));
    expect(read?.result[1]?.samples.t.length).toBe(0);
  });

  it('grows past its first allocation and accepts whitespace and any key order', () => {
    const values = Array.from({ length: 1000 }, (_, i) => `[ ${1764000000 + i} , "${i}" ]`).join(',\n');
    const text = `{ "data" : { "result" : [ { "values" : [ ${values} ] , "metric" : { "a" : "b" } } ], "resultType" : "matrix" }, "infos": [], "status" : "success" }`;
    const read = readMatrixAnswer(text, 10);
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
      expect(readMatrixAnswer(text), text).toBeUndefined();
    }
  });
});
