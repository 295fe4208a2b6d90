import { describe, expect, it } from 'vitest';
import { downsample, round, seriesStats, type Columns } from '../../../src/lib/series.ts';

const T0 = 1_764_000_000;
const series = (values: number[], step = 15): Columns => ({
  t: Float64Array.from(values, (_, i) => T0 + i * step),
  v: Float64Array.from(values),
});

describe('seriesStats', () => {
  it('reports min, max (with its time), mean, first and last', () => {
    const stats = seriesStats(series([3, 1, 4, 1, 5, 9, 2, 6]), 15);
    expect(stats).toMatchObject({ samples: 8, nonFinite: 0, mean: 3.875 });
    expect(stats?.min.v).toBe(1);
    expect(stats?.max).toEqual({ t: T0 + 5 * 15, v: 9 });
    expect(stats?.first.v).toBe(3);
    expect(stats?.last.v).toBe(6);
  });

  it('tells rising, falling and flat series apart', () => {
    expect(seriesStats(series([1, 2, 3, 4, 5, 6, 7, 8]), 15)?.trend).toBe('rising');
    expect(seriesStats(series([8, 7, 6, 5, 4, 3, 2, 1]), 15)?.trend).toBe('falling');
    expect(seriesStats(series([5, 5.01, 4.99, 5, 5.02, 4.98, 5, 5]), 15)?.trend).toBe('flat');
    expect(seriesStats(series([0, 0, 0, 0]), 15)?.trend).toBe('flat');
  });

  it('finds a burst in a flat series and reports it once, at its peak', () => {
    const values = Array.from({ length: 60 }, () => 1);
    values[30] = 40;
    values[31] = 95;
    values[32] = 50;
    const stats = seriesStats(series(values), 15);
    expect(stats?.spikes).toEqual([{ t: T0 + 31 * 15, v: 95 }]);
  });

  it('does not call a steady climb a spike, but finds a burst on top of it', () => {
    const climb = Array.from({ length: 100 }, (_, i) => i + Math.sin(i) * 0.5);
    expect(seriesStats(series(climb), 15)?.spikes).toEqual([]);
    climb[70] = 400;
    expect(seriesStats(series(climb), 15)?.spikes.map(p => p.v)).toEqual([400]);
  });

  it('keeps the three largest of many spikes', () => {
    const values = Array.from({ length: 100 }, () => 10);
    for (const [i, v] of [
      [10, 50],
      [30, 80],
      [50, 30],
      [70, 90],
    ] as const)
      values[i] = v;
    expect(seriesStats(series(values), 15)?.spikes.map(p => p.v)).toEqual([90, 80, 50]);
  });

  it('leaves NaN and infinities out of the figures and counts them', () => {
    const stats = seriesStats(series([1, Number.NaN, 3, Number.POSITIVE_INFINITY]), 15);
    expect(stats).toMatchObject({ samples: 4, nonFinite: 2, mean: 2 });
    expect(seriesStats(series([Number.NaN]), 15)).toBeUndefined();
  });
});

describe('downsample', () => {
  it('averages equal slices of the range and marks empty ones', () => {
    const points = series([1, 3, 5, 7], 10); // t0..t0+30
    expect(downsample(points, T0, T0 + 40, 4)).toEqual([1, 3, 5, 7]);
    expect(downsample(points, T0, T0 + 40, 2)).toEqual([2, 6]);
    expect(downsample(points, T0, T0 + 80, 4)).toEqual([2, 6, null, null]);
  });
});

describe('round', () => {
  it('keeps significant digits', () => {
    expect(round(0.123456789, 4)).toBe(0.1235);
    expect(round(123456789, 4)).toBe(123456789); // integer digits are never rounded away
    expect(round(1769868123.456)).toBe(1769868123);
    expect(round(12345.678, 4)).toBe(12346);
    expect(round(123.456, 4)).toBe(123.5);
    expect(round(-1499.5, 4)).toBe(-1500);
    expect(round(-1769868123.5)).toBe(-1769868124);
    expect(round(42)).toBe(42);
  });
});
