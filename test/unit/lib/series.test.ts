import { describe, expect, it } from 'vitest';
import {
  downsample,
  medianInterval,
  nonFiniteCounts,
  round,
  seriesStats,
  type Columns,
} from '../../../src/lib/series.ts';

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

  it('calls a steady climb rising however small against its level, but not noise that ends higher', () => {
    // A disk filling from 85 % to 89 % over an hour: 5 % of its level, and well clear of its noise.
    const disk = Array.from({ length: 241 }, (_, i) => 85 + (4 * i) / 240 + 0.05 * Math.sin(i));
    expect(seriesStats(series(disk), 15)?.trend).toBe('rising');
    const memory = Array.from({ length: 241 }, (_, i) => 1e9 + (i / 240) * 4e7);
    expect(seriesStats(series(memory), 15)?.trend).toBe('rising');
    expect(seriesStats(series(disk.toReversed()), 15)?.trend).toBe('falling');
    // Eight noisy points that happen to end a little higher are no trend.
    expect(seriesStats(series([100.2, 100.9, 100.1, 100.6, 100.4, 100.8, 100.3, 100.9]), 15)?.trend).toBe(
      'flat',
    );
    // Nor is a lone burst off the middle, which tilts the fitted line.
    const burst = Array.from({ length: 481 }, (_, i) => (i === 360 ? 0.9 : 0.01));
    expect(seriesStats(series(burst), 15)?.trend).toBe('flat');
    expect(seriesStats(series(Array.from({ length: 100 }, () => 0.1 + 0.2)), 15)?.trend).toBe('flat');
  });

  it('calls a long climb rising when each point wanders by more than the whole climb', () => {
    // 240 points alternating 10 above and below a line that climbs 8 to 12: the levels at the start and end
    // are means of 48 points each, and differ far beyond what their noise allows.
    for (const climb of [8, 10, 12]) {
      const zigzag = Array.from({ length: 240 }, (_, i) => 100 + (climb * i) / 239 + (i % 2 ? 10 : -10));
      expect({ climb, trend: seriesStats(series(zigzag, 60), 60)?.trend }).toEqual({
        climb,
        trend: 'rising',
      });
      expect(seriesStats(series(zigzag.toReversed(), 60), 60)?.trend).toBe('falling');
    }
    const level = Array.from({ length: 240 }, (_, i) => 100 + (i % 2 ? 10 : -10));
    expect(seriesStats(series(level, 60), 60)?.trend).toBe('flat');
  });

  it('calls a series flat when a burst is over, wherever the burst falls in the window', () => {
    // sum(rate(errors[1m])) at a 15 s step over an hour: a 0.1 baseline, a five-minute burst at 5 with
    // one-minute ramps, moved through the window as a caller moves the range.
    const rateBurst = (at: number) =>
      Array.from({ length: 241 }, (_, i) => {
        const into = i - at;
        const ramp =
          into < 0 ? 0 : into < 4 ? (into + 1) / 5 : into < 20 ? 1 : into < 24 ? (24 - into) / 5 : 0;
        return 0.1 + 4.9 * ramp + 0.001 * Math.sin(i);
      });
    for (const at of [20, 60, 100, 150, 200]) {
      const stats = seriesStats(series(rateBurst(at)), 15);
      expect({ at, trend: stats?.trend }).toEqual({ at, trend: 'flat' });
      expect(stats?.spikes).toHaveLength(1);
    }
    // count_over_time(...[10m]) at a 1m step over 40 minutes: the count rises, holds and falls back to 0.
    const counted = [
      0, 0, 0, 2.4, 4.8, 7.2, 9.6, 12, 14.4, 16.8, 19.2, 21.6, 24, 24, 24, 24, 24, 24, 24, 24, 21.6, 19.2,
      16.8, 14.4, 12, 9.6, 7.2, 4.8, 2.4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    expect(seriesStats(series(counted, 60), 60)?.trend).toBe('flat');
    expect(seriesStats(series([0, 18, 24, 24, 24, 24, 24, 6, 0, 0, 0, 0], 60), 60)?.trend).toBe('flat');
    // A burst still going at the end is where the series stands: that is a rise.
    expect(seriesStats(series(rateBurst(225)), 15)?.trend).toBe('rising');
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

  it('reports a drop as a dip, apart from the spikes', () => {
    const values = Array.from({ length: 60 }, (_, i) => 100 + (i % 3));
    values[30] = 0;
    values[45] = 300;
    const stats = seriesStats(series(values), 15);
    expect(stats?.dips).toEqual([{ t: T0 + 30 * 15, v: 0 }]);
    expect(stats?.spikes).toEqual([{ t: T0 + 45 * 15, v: 300 }]);
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

describe('trends of series whose points follow each other', () => {
  /** A rate over a 15-minute window at a 15 s step of a counter steady at 10/s: no drift, much wander. */
  function windowedRate(seed: number): { t: Float64Array; v: Float64Array } {
    let state = seed;
    const noise = () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648 - 0.5;
    };
    const perStep = Array.from({ length: 301 }, () => 10 + noise());
    const v = Float64Array.from(
      { length: 241 },
      (_, i) => perStep.slice(i, i + 60).reduce((a, b) => a + b) / 60,
    );
    return { t: Float64Array.from({ length: 241 }, (_, i) => 1.7e9 + i * 15), v };
  }

  it('calls a windowed rate with no drift flat (at most one in twenty), where a test for independent points finds trends', () => {
    const trends = Array.from({ length: 40 }, (_, seed) => seriesStats(windowedRate(seed + 1), 15)?.trend);
    // A test of the slope that took the points for independent ones called 11 of these 40 a trend.
    expect(trends.filter(trend => trend !== 'flat').length).toBeLessThanOrEqual(2);
  });

  it('calls the windowed rate of a quiet counter flat too, whose few events make it wander far', () => {
    // rate(errors[5m]) at a 15 s step over an hour, at 0.05 errors a second: each step adds 0, 1 or 2 errors.
    const quietRate = (seed: number) => {
      let state = seed;
      const uniform = () => {
        state = (state * 1103515245 + 12345) % 2147483648;
        return state / 2147483648;
      };
      const events = () => {
        // Poisson with mean 0.75, by Knuth's method.
        let k = 0;
        for (let p = uniform(); p > Math.exp(-0.75); p *= uniform()) k++;
        return k;
      };
      const perStep = Array.from({ length: 261 }, events);
      const v = Float64Array.from(
        { length: 241 },
        (_, i) => perStep.slice(i, i + 20).reduce((a, b) => a + b) / 300,
      );
      return { t: Float64Array.from({ length: 241 }, (_, i) => 1.7e9 + i * 15), v };
    };
    const trends = Array.from({ length: 40 }, (_, seed) => seriesStats(quietRate(seed + 7), 15)?.trend);
    expect(trends.filter(trend => trend !== 'flat').length).toBeLessThanOrEqual(2);
  });

  it('calls a quiet counter flat when its last point is one tick: a single point is no burst under way', () => {
    const ticks = Array.from({ length: 60 }, (_, i) => (i % 17 === 3 || i === 59 ? 1 : 0));
    expect(seriesStats(series(ticks, 60), 60)?.trend).toBe('flat');
  });

  it('still sees a steady climb of 4 % an hour in noise', () => {
    const t = Float64Array.from({ length: 241 }, (_, i) => 1.7e9 + i * 15);
    const v = Float64Array.from(t, (_, i) => 1000 + (40 * i) / 240 + ((i * 7919) % 13) / 6 - 1);
    expect(seriesStats({ t, v }, 15)?.trend).toBe('rising');
  });
});

describe('nonFiniteCounts', () => {
  it('counts NaN, +Inf and -Inf apart, naming only the kinds present', () => {
    const { v } = series([1, Number.NaN, Number.POSITIVE_INFINITY, Number.NaN, Number.NEGATIVE_INFINITY]);
    expect(nonFiniteCounts(v)).toEqual({ NaN: 2, '+Inf': 1, '-Inf': 1 });
    expect(nonFiniteCounts(series([Number.POSITIVE_INFINITY, 2]).v)).toEqual({ '+Inf': 1 });
    expect(nonFiniteCounts(series([1, 2]).v)).toEqual({});
  });
});

describe('medianInterval', () => {
  it('gives the typical spacing of raw samples, unmoved by a gap', () => {
    const scraped = Float64Array.from([0, 15, 30, 45, 300, 315, 330], t => T0 + t);
    expect(medianInterval([scraped, Float64Array.from([T0, T0 + 15])])).toBe(15);
    expect(medianInterval([Float64Array.from([T0])])).toBeUndefined();
    expect(medianInterval([])).toBeUndefined();
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
