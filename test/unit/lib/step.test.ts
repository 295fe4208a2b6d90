import { describe, expect, it } from 'vitest';
import {
  chooseStep,
  describeStep,
  longestRange,
  parseStep,
  peakHint,
  pointsFor,
} from '../../../src/lib/step.ts';

const budget = { targetPoints: 240, maxPoints: 1100 };
const YEAR = 365 * 86_400;

describe('parseStep', () => {
  it('reads durations and seconds', () => {
    expect(parseStep('30s')).toBe(30);
    expect(parseStep('1m30s')).toBe(90);
    expect(parseStep(0.5)).toBe(0.5);
    expect(parseStep('15')).toBe(15);
  });

  it('refuses what no backend can take: nothing, less than a millisecond, more than a year', () => {
    expect(() => parseStep('fast')).toThrow('step "fast" is not a positive duration.');
    expect(() => parseStep(0)).toThrow('is not a positive duration');
    expect(() => parseStep(0.0001)).toThrow('shorter than a millisecond');
    expect(() => parseStep(1e308)).toThrow('is longer than a year');
    expect(parseStep('1y')).toBe(365 * 86_400);
    expect(() => parseStep('y'.repeat(100_000))).toThrow('(100000 characters) is not a positive duration');
  });
});

describe('chooseStep', () => {
  it('picks a readable step near the target when none is given', () => {
    const hour = chooseStep(3600, undefined, budget);
    expect(hour).toMatchObject({ step: 15, reason: 'auto' });
    expect(hour.points).toBeLessThanOrEqual(budget.targetPoints + 1);
    expect(chooseStep(86_400, undefined, budget).step).toBe(600);
    expect(chooseStep(60, undefined, budget).step).toBe(1);
  });

  it('keeps a requested step that stays within the point budget', () => {
    expect(chooseStep(600, 1, budget)).toEqual({ step: 1, points: 601, reason: 'requested' });
    expect(chooseStep(300, 0.5, budget)).toMatchObject({ step: 0.5, points: 601, reason: 'requested' });
  });

  it('keeps a requested step that yields exactly the most points, and raises one that yields a point more', () => {
    expect(chooseStep(1099, 1, budget)).toEqual({ step: 1, points: 1100, reason: 'requested' });
    expect(chooseStep(1100, 1, budget)).toEqual({ step: 2, points: 551, reason: 'raised', requested: 1 });
  });

  it('raises the step when a range would exceed the point budget', () => {
    const year = chooseStep(YEAR, 1, budget);
    expect(year.reason).toBe('raised');
    expect(year.requested).toBe(1);
    expect(year.points).toBeLessThanOrEqual(budget.maxPoints);
    expect(pointsFor(YEAR, year.step)).toBe(year.points);
    // The raised step is the smallest nice one that fits, so resolution is not thrown away.
    expect(year.step).toBe(43_200);
    expect(describeStep(year, budget)).toBe(
      'step raised from 1s to 12h to stay within 1100 points per series',
    );
  });

  it('never exceeds the budget even for ranges beyond the table of nice steps', () => {
    const century = chooseStep(100 * YEAR, 60, budget);
    expect(century.points).toBeLessThanOrEqual(budget.maxPoints);
    expect(century.step % 86_400).toBe(0);
  });

  it('says nothing when the step was not raised', () => {
    expect(describeStep(chooseStep(600, 1, budget), budget)).toBeUndefined();
  });
});

describe('longestRange', () => {
  it('finds the longest [range] of a query, subqueries included, and none inside label values', () => {
    expect(longestRange('rate(http_requests_total[5m])')).toBe(300);
    expect(longestRange('max_over_time(rate(x[1m])[1h:30s]) / on() y[90s]')).toBe(3600);
    expect(longestRange('up{path="/a[2h]", q=\'[3d]\'}')).toBe(0);
    expect(longestRange('cpu_load')).toBe(0);
  });
});

describe('peakHint', () => {
  it('suggests max_over_time over one step when the step skips samples a burst could be in', () => {
    expect(peakHint('cpu_load{host="a"}', 900)).toBe(
      'At a 15m step a burst between two points is not seen: max_over_time(cpu_load{host="a"}[15m]) (or min_over_time) at this step shows the peaks.',
    );
    expect(peakHint('rate(x[1m])', 900)).toContain('max_over_time((rate(x[1m]))[15m:])');
    expect(peakHint(`sum(${'a + '.repeat(100)}b)`, 900)).toContain('max_over_time((<query>)[15m:])');
  });

  it('says nothing when each point sees every sample: a short step, or a [range] as long as it', () => {
    expect(peakHint('cpu_load', 15)).toBeUndefined();
    expect(peakHint('cpu_load', 60)).toBeUndefined();
    expect(peakHint('max_over_time(cpu_load[15m])', 900)).toBeUndefined();
  });
});
