import { describe, expect, it } from 'vitest';
import { checkLogQL } from '../../../src/lib/logql.ts';

describe('checkLogQL', () => {
  it('accepts log queries with filters and parsers and returns their selectors', () => {
    expect(checkLogQL('{app="predictor", env!="dev"} |= "error" | json | status >= 500')).toEqual({
      kind: 'logs',
      selectors: [
        { selector: '{app="predictor", env!="dev"}', rangeSeconds: 0, offsetSeconds: 0, hasStages: true },
      ],
      countsLines: false,
      hasStages: true,
    });
    expect(checkLogQL('{app="predictor"}').hasStages).toBe(false);
  });

  it('recognises metric queries and the range and offset of each selector', () => {
    expect(
      checkLogQL('sum by (level) (count_over_time({app="a"}[5m])) / sum(count_over_time({app="a"}[1h]))'),
    ).toEqual({
      kind: 'metric',
      selectors: [
        { selector: '{app="a"}', rangeSeconds: 300, offsetSeconds: 0, hasStages: false },
        { selector: '{app="a"}', rangeSeconds: 3600, offsetSeconds: 0, hasStages: false },
      ],
      countsLines: false,
      hasStages: false,
    });
    expect(checkLogQL('sum(count_over_time({app="a"} | json | status >= 500 [5m]))').hasStages).toBe(true);
    expect(checkLogQL('sum(count_over_time({app="big"} |= "x" [5m] offset 2d))').selectors).toEqual([
      { selector: '{app="big"}', rangeSeconds: 300, offsetSeconds: 172_800, hasStages: true },
    ]);
    // The same read twice is asked about once.
    expect(
      checkLogQL('rate({app="a"}[1m]) / rate({app="a"}[1m] offset 1h) + rate({app="a"}[1m])').selectors,
    ).toHaveLength(2);
  });

  it('says which selectors of a binary query have stages after them', () => {
    const read = (query: string) => checkLogQL(query).selectors.map(s => [s.selector, s.hasStages]);
    expect(read('count_over_time({a="b"}[5m]) / count_over_time({c="d"} |= "x" [5m])')).toEqual([
      ['{a="b"}', false],
      ['{c="d"}', true],
    ]);
    expect(read('count_over_time(({a="b"} | json)[5m])')).toEqual([['{a="b"}', true]]);
    // One read of a selector with stages and one without are one read, with stages.
    expect(read('count_over_time({a="b"}[5m]) / count_over_time({a="b"} |= "x" [5m])')).toEqual([
      ['{a="b"}', true],
    ]);
  });

  it('knows which queries count lines, so that a step without a sample is 0', () => {
    for (const query of [
      'count_over_time({app="a"}[5m])',
      'rate({app="a"} |= "x" [5m])',
      'sum by (level) (bytes_over_time({app="a"}[5m]))',
      '(sum(sum without (pod) (bytes_rate({app="a"} | json [1m]))))',
      'count_over_time({app="a"}[5m] | json)',
    ]) {
      expect(checkLogQL(query).countsLines, query).toBe(true);
    }
    for (const query of [
      '{app="a"}',
      'avg(count_over_time({app="a"}[5m]))',
      'max by (level) (rate({app="a"}[5m]))',
      'topk(3, count_over_time({app="a"}[5m]))',
      'count_over_time({app="a"}[5m]) > 10',
      'sum_over_time({app="a"} | json | unwrap bytes [5m])',
      'rate({app="a"} | json | unwrap latency [5m])',
    ]) {
      expect(checkLogQL(query).countsLines, query).toBe(false);
    }
  });

  it('points at the column of a syntax error', () => {
    expect(() => checkLogQL('{app="foo"')).toThrow(
      /LogQL syntax error at column 11: the query ends too early/,
    );
    expect(() => checkLogQL('rate({app="foo"}[5minutes])')).toThrow('column 20: unexpected "inutes])"');
    expect(() => checkLogQL('{app="foo"} |= error')).toThrow(/column 16/);
  });

  it('refuses selectors that match every stream, as Loki does', () => {
    for (const query of ['{app=~".*"}', '{app!="x"}', '{app=""}', '{app!~".+"}', '{app=~"a|"}']) {
      expect(() => checkLogQL(query), query).toThrow(/matches every stream/);
    }
    expect(checkLogQL('{app=~".+"}').selectors).toMatchObject([{ selector: '{app=~".+"}' }]);
  });

  it('accepts any matcher that cannot match an empty value, whatever its operator', () => {
    for (const query of ['{app!=""}', '{app!~""}', '{app!~".*"}', '{app!~"a*"}', '{env!="dev", app!=""}']) {
      expect(checkLogQL(query).selectors, query).toHaveLength(1);
    }
    // What JavaScript would judge otherwise than RE2 is left to Loki: \z (end of text, so !~ cannot match an empty
    // value) is "z" to a RegExp without the u flag; RE2 refuses lookarounds and backreferences, which match "" here.
    for (const query of ['{app!~"\\\\z"}', '{app=~"(?!a)"}', '{app=~"(a)?\\\\1"}']) {
      expect(checkLogQL(query).selectors, query).toHaveLength(1);
    }
    // A leading flag group cannot make an empty value match.
    expect(() => checkLogQL('{app=~"(?i).*"}')).toThrow(/matches every stream/);
    // A huge selector is named, not echoed whole.
    expect(() => checkLogQL(`{app=~".*|${'x'.repeat(19_000)}"}`)).toThrow(
      /\(19\d\d\d characters\) matches every stream/,
    );
  });
});
