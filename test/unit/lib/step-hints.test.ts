// The max_over_time hints of a coarse step are for queries that read series: a scalar expression gets none, as
// Prometheus refuses a subquery of one ("subquery is only allowed on instant vector, got scalar").
import { expect, it } from 'vitest';
import { emptyRangeHint, peakHint } from '../../../src/lib/step.ts';

it('gives no max_over_time hint for a scalar expression, and one for any query that reads series', () => {
  for (const query of [
    'time()',
    'scalar(sum(up))',
    '1 + 1',
    '2 * pi()',
    'scalar(sum(up)) * 2',
    '-scalar(sum(up))',
    'scalar(a) + scalar(b)',
    '1e3',
    '0x10 + 1',
  ]) {
    expect(peakHint(query, 3600), query).toBeUndefined();
    expect(emptyRangeHint(query, 3600), query).toBeUndefined();
  }
  for (const query of [
    'up',
    'sum(up)',
    'sum by (job) (rate(x[5m]))',
    '{__name__="up"}',
    'up offset 5m',
    'sum(up) / scalar(count(up))',
    'time() - process_start_time_seconds',
    'label_replace(vector(1), "a", "#", "", "") + up',
    'count_values("#", up)',
  ]) {
    expect(peakHint(query, 3600), query).toMatch(/max_over_time/);
    expect(emptyRangeHint(query, 3600), query).toMatch(/max_over_time/);
  }
});
