import { describe, expect, it } from 'vitest';
import { checkLogQL } from '../../../src/lib/logql.ts';

describe('checkLogQL', () => {
  it('accepts log queries with filters and parsers and returns their selectors', () => {
    expect(checkLogQL('{app="predictor", env!="dev"} |= "error" | json | status >= 500')).toEqual({
      kind: 'logs',
      selectors: ['{app="predictor", env!="dev"}'],
      maxRangeSeconds: 0,
    });
  });

  it('recognises metric queries and their longest range', () => {
    expect(
      checkLogQL('sum by (level) (count_over_time({app="a"}[5m])) / sum(count_over_time({app="a"}[1h]))'),
    ).toEqual({ kind: 'metric', selectors: ['{app="a"}'], maxRangeSeconds: 3600 });
  });

  it('points at the column of a syntax error', () => {
    expect(() => checkLogQL('{app="foo"')).toThrow(
      /LogQL syntax error at column 11: the query ends too early/,
    );
    expect(() => checkLogQL('rate({app="foo"}[5minutes])')).toThrow('column 20: unexpected "inutes])"');
    expect(() => checkLogQL('{app="foo"} |= error')).toThrow(/column 16/);
  });

  it('refuses selectors that match every stream, as Loki does', () => {
    expect(() => checkLogQL('{app=~".*"}')).toThrow(/matches every stream/);
    expect(() => checkLogQL('{app!="x"}')).toThrow(/matches every stream/);
    expect(() => checkLogQL('{app=""}')).toThrow(/matches every stream/);
    expect(checkLogQL('{app=~".+"}').selectors).toEqual(['{app=~".+"}']);
  });
});
