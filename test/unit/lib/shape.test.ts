import { describe, expect, it } from 'vitest';
import { columnsOf, histogramColumnsOf } from '../../../src/lib/series.ts';
import { commonLabels, shapeInstant, shapeRange, type RawSeries } from '../../../src/lib/shape.ts';

const START = 1_764_000_000;
const STEP = 1;
const END = START + 600;
const ctx = { start: START, end: END, step: STEP };
const base = { query: 'q', result_type: 'matrix', start: 'a', end: 'b', step: '1s' };
const options = { maxBytes: 8192, fullBytes: 32_768, format: 'summary' as const, base };

function makeSeries(count: number, spikeAt?: number): RawSeries[] {
  return Array.from({ length: count }, (_, i) => ({
    labels: { __name__: 'http_requests', job: 'api', instance: `host-${i}:9100` },
    samples: columnsOf(
      Array.from({ length: 601 }, (_, k) => {
        const value = spikeAt === k && i === 7 ? 500 : i + Math.sin(k / 20);
        return [START + k * STEP, String(value)] as const;
      }),
    ),
  }));
}

const size = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('shapeRange', () => {
  it('fits 40 series of 601 points into the byte budget with every series summarized', () => {
    const shaped = shapeRange(makeSeries(40), ctx, options);
    expect(size({ ...base, ...shaped })).toBeLessThanOrEqual(8192);
    expect(shaped.series_total).toBe(40);
    expect(shaped.series_shown).toBe(40);
    expect(shaped.truncated).toBe(false);
    expect(shaped.common_labels).toEqual({ __name__: 'http_requests', job: 'api' });
    expect(shaped.series[3]).toMatchObject({ labels: { instance: 'host-3:9100' }, samples: 601 });
    expect(shaped.series[3]?.min).toBeCloseTo(2, 2);
    expect(shaped.series[3]?.max).toBeCloseTo(4, 2);
  });

  it('uses the finest shape that fits and says how wide its buckets are', () => {
    const few = shapeRange(makeSeries(2), ctx, options);
    expect(few.series[0]?.shape).toHaveLength(24);
    expect(few.shape_every).toBe('25s');
    const many = shapeRange(makeSeries(40), ctx, options);
    expect((many.series[0]?.shape ?? []).length).toBeLessThan(24);
  });

  it('gives every outline the same buckets, empty ones null, so that one shape_every holds for all', () => {
    const hour = { start: START, end: START + 3600, step: 15 };
    const steady = columnsOf(Array.from({ length: 241 }, (_, k) => [START + k * 15, '1'] as const));
    // A pod that appeared five minutes before the end: 20 points, all in the last two buckets.
    const late = columnsOf(Array.from({ length: 20 }, (_, k) => [START + 3315 + k * 15, String(k)] as const));
    const shaped = shapeRange(
      [
        { labels: { pod: 'a' }, samples: steady },
        { labels: { pod: 'b' }, samples: late },
      ],
      hour,
      options,
    );
    expect(shaped.shape_every).toBe('2m30s');
    const [, b] = shaped.series;
    expect(b?.shape).toHaveLength(24);
    expect(b?.shape?.slice(0, 22).every(v => v === null)).toBe(true);
    expect(b?.shape?.slice(22)).toEqual([4, 14]);
  });

  it('makes no bucket narrower than the step', () => {
    const tenMinutes = { start: START, end: START + 600, step: 60 };
    const points = columnsOf(Array.from({ length: 11 }, (_, k) => [START + k * 60, String(k)] as const));
    const shaped = shapeRange([{ labels: {}, samples: points }], tenMinutes, options);
    expect(shaped.shape_every).toBe('1m40s');
    expect(shaped.series[0]?.shape).toEqual([0.5, 2.5, 4, 5.5, 7.5, 9.5]);
  });

  it('writes no shape_every when no series has a shape', () => {
    expect(shapeRange([], ctx, options)).toEqual({
      series: [],
      series_total: 0,
      series_shown: 0,
      truncated: false,
    });
  });

  it('says what a series of only NaN or infinities holds, so that it does not read as empty', () => {
    const all = (value: string) =>
      columnsOf(Array.from({ length: 241 }, (_, k) => [START + k * 15, value] as const));
    const shaped = shapeRange(
      [
        { labels: { q: 'nan' }, samples: all('NaN') },
        { labels: { q: 'inf' }, samples: all('+Inf') },
        {
          labels: { q: 'mixed' },
          samples: columnsOf([
            [START, '1'],
            [START + 1, '-Inf'],
            [START + 2, 'NaN'],
          ]),
        },
      ],
      ctx,
      options,
    );
    expect(shaped.series[0]).toEqual({
      labels: { q: 'nan' },
      samples: 241,
      first: 'NaN',
      last: 'NaN',
      non_finite: { NaN: 241 },
    });
    expect(shaped.series[1]).toMatchObject({ first: '+Inf', last: '+Inf', non_finite: { '+Inf': 241 } });
    expect(shaped.series[2]).toMatchObject({ min: 1, last: 1, non_finite: { '-Inf': 1, NaN: 1 } });
  });

  it('says the figures are of the points at the step, or of every sample when they are raw', () => {
    const stepped = shapeRange(makeSeries(1), ctx, options);
    expect(stepped.note).toMatch(/^Figures are of the points at the 1s step; format "full" returns/);
    const raw = shapeRange(makeSeries(1), ctx, { ...options, raw: true });
    expect(raw.note).toMatch(/^Figures cover every sample;/);
  });

  it("adds the caller's hints to the note within the byte budget", () => {
    const hint = `Look here: ${'x'.repeat(400)}`;
    const shaped = shapeRange(makeSeries(40), ctx, { ...options, hints: [hint] });
    expect(shaped.note?.endsWith(hint)).toBe(true);
    expect(size({ ...base, ...shaped })).toBeLessThanOrEqual(8192);
  });

  it('summarizes native histogram samples by count and sum, beside float ones, and says how to query them', () => {
    const histograms = histogramColumnsOf(
      Array.from(
        { length: 10 },
        (_, k) => [START + 300 + k, { count: String(10 * k), sum: String(k) }] as const,
      ),
    );
    const floats = columnsOf(Array.from({ length: 300 }, (_, k) => [START + k, '2'] as const));
    const shaped = shapeRange(
      [
        { labels: { job: 'switched' }, samples: floats, histograms },
        { labels: { job: 'native' }, samples: columnsOf([]), histograms },
      ],
      ctx,
      options,
    );
    const [switched, native] = shaped.series;
    expect(switched).toMatchObject({ samples: 310, min: 2, max: 2, mean: 2 });
    expect(switched?.histogram).toEqual({
      samples: 10,
      count: { first: 0, last: 90, min: 0, max: 90, mean: 45 },
      sum: { first: 0, last: 9, min: 0, max: 9, mean: 4.5 },
    });
    expect(native).toEqual({
      labels: { job: 'native' },
      samples: 10,
      from: '2025-11-24T16:05:00Z',
      to: '2025-11-24T16:05:09Z',
      histogram: switched?.histogram,
    });
    expect(shaped.note).toContain('histogram_quantile(0.9, rate(<metric>[5m]))');
  });

  it('reports a burst as a spike with its time', () => {
    const shaped = shapeRange(makeSeries(10, 300), ctx, options);
    const burst = shaped.series.find(s => s.labels.instance === 'host-7:9100');
    expect(burst?.spikes?.[0]).toEqual({ at: '2025-11-24T16:05:00Z', value: 500 });
    expect(burst?.max_at).toBe('2025-11-24T16:05:00Z');
  });

  it('reports a drop under dips, not under spikes', () => {
    const values = Array.from({ length: 601 }, (_, k) => (k === 200 ? '-40' : String(Math.sin(k / 20))));
    const [entry] = shapeRange(
      [{ labels: {}, samples: columnsOf(values.map((v, k) => [START + k, v] as const)) }],
      ctx,
      options,
    ).series;
    expect(entry?.dips).toEqual([{ at: '2025-11-24T16:03:20Z', value: -40 }]);
    expect(entry?.spikes).toBeUndefined();
  });

  it('drops series beyond the budget, keeps the highest peaks and says how to see the rest', () => {
    const shaped = shapeRange(makeSeries(400), ctx, options);
    expect(size({ ...base, ...shaped })).toBeLessThanOrEqual(8192);
    expect(shaped.truncated).toBe(true);
    expect(shaped.series_total).toBe(400);
    expect(shaped.series_shown).toBeLessThan(400);
    expect(shaped.series[0]?.labels.instance).toBe('host-399:9100');
    expect(shaped.note).toMatch(/Showing \d+ of 400 series/);
    expect(shaped.note).toContain('topk');
  });

  it('returns raw points for format "full" under the larger cap', () => {
    const shaped = shapeRange(makeSeries(1), ctx, { ...options, format: 'full', maxBytes: 32_768 });
    expect(shaped.series[0]?.values).toHaveLength(601);
    expect(shaped.series[0]?.values?.[0]).toEqual([START, 0]);
    expect(shaped.truncated).toBe(false);
  });

  it('gives format "full" the points of as many series as fit, highest peaks first, and says how many', () => {
    const shaped = shapeRange(makeSeries(40), ctx, { ...options, format: 'full', maxBytes: 32_768 });
    expect(size({ ...base, ...shaped })).toBeLessThanOrEqual(32_768);
    const shown = shaped.series_shown;
    expect(shown).toBeGreaterThan(0);
    expect(shaped.series.every(s => s.values?.length === 601)).toBe(true);
    expect(shaped.series[0]?.labels.instance).toBe('host-39:9100');
    expect(shaped.truncated).toBe(true);
    expect(shaped.note).toMatch(
      new RegExp(
        `^Points of ${shown} of 40 series \\(highest max first, passing over any too big to fit: one left out may peak higher\\); ${40 - shown} left out to fit 32 KiB\\.`,
      ),
    );
  });

  it('gives format "full" the points of the smaller series when the one peaking highest is too big to fit', () => {
    const year = { start: START, end: START + 1100, step: 1 };
    const series = (pod: string, count: number, peak: number): RawSeries => ({
      labels: { pod },
      samples: columnsOf(
        Array.from(
          { length: count },
          (_, k) => [START + 1101 - count + k, String(k === 0 ? peak : 1)] as const,
        ),
      ),
    });
    const all = [series('big', 1101, 1000), ...[1, 2, 3, 4, 5].map(i => series(`small-${i}`, 5, 10 + i))];
    const shaped = shapeRange(all, year, { ...options, format: 'full', maxBytes: 8192 });
    expect(shaped.series.map(s => s.labels.pod)).toEqual([
      'small-5',
      'small-4',
      'small-3',
      'small-2',
      'small-1',
    ]);
    expect(shaped.series.every(s => s.values?.length === 5)).toBe(true);
    expect(shaped.note).toMatch(
      /^Points of 5 of 6 series \(highest max first, passing over any too big to fit: one left out may peak higher\); 1 left out to fit 8\.0 KiB\./,
    );
  });

  it('says format "full" shows summaries without points when not one series\' points fit', () => {
    const year = { start: START, end: START + 1100, step: 1 };
    const long = (count: number) =>
      Array.from({ length: count }, (_, i) => ({
        labels: { pod: `pod-${i}` },
        samples: columnsOf(Array.from({ length: 1101 }, (_, k) => [START + k, String(i + k / 1e4)] as const)),
      }));
    const all = shapeRange(long(3), year, { ...options, format: 'full', maxBytes: 8192 });
    expect(all.series.some(s => s.values)).toBe(false);
    expect(all.note).toContain('summaries shown instead (no points)');
    const some = shapeRange(long(300), year, { ...options, format: 'full', maxBytes: 8192 });
    expect(some.series_shown).toBeLessThan(300);
    expect(some.note).toMatch(/^Not one series' points fit: summaries \(no points\) of \d+ of 300 series/);
  });

  it('marks series that start late or stop early', () => {
    const partial: RawSeries = {
      labels: { job: 'x' },
      samples: columnsOf(Array.from({ length: 100 }, (_, k) => [START + 200 + k, '1'] as const)),
    };
    const [entry] = shapeRange([partial], ctx, options).series;
    expect(entry?.from).toBe('2025-11-24T16:03:20Z');
    expect(entry?.to).toBe('2025-11-24T16:04:59Z');
  });
});

describe('shapeInstant', () => {
  it('keeps Prometheus order and encodes special values', () => {
    const shaped = shapeInstant(
      [
        { labels: { job: 'b' }, value: '2' },
        { labels: { job: 'a' }, value: 'NaN' },
        { labels: { job: 'c' }, value: '+Inf' },
      ],
      { maxBytes: 8192, fullBytes: 32_768, base: {} },
    );
    expect(shaped.series).toEqual([
      { labels: { job: 'b' }, value: 2 },
      { labels: { job: 'a' }, value: 'NaN' },
      { labels: { job: 'c' }, value: '+Inf' },
    ]);
  });

  it('shows a native histogram by its count and sum, and says how to query it', () => {
    const shaped = shapeInstant(
      [
        { labels: { job: 'a' }, histogram: { count: '50', sum: '165' } },
        { labels: { job: 'b' }, value: '7' },
      ],
      { maxBytes: 8192, fullBytes: 32_768, base: {} },
    );
    expect(shaped.series).toEqual([
      { labels: { job: 'a' }, histogram: { count: 50, sum: 165 } },
      { labels: { job: 'b' }, value: 7 },
    ]);
    expect(shaped.note).toMatch(/^Native histograms are summarized by their count and sum/);
  });

  it('cuts a long vector at the budget and says so', () => {
    const many = Array.from({ length: 2000 }, (_, i) => ({ labels: { pod: `pod-${i}` }, value: String(i) }));
    const shaped = shapeInstant(many, { maxBytes: 8192, fullBytes: 32_768, base: {} });
    expect(size(shaped)).toBeLessThanOrEqual(8192);
    expect(shaped.truncated).toBe(true);
    expect(shaped.note).toMatch(/first \d+ of 2000 series/);
  });
});

describe('commonLabels', () => {
  it('hoists only labels shared by every series, and nothing for a single series', () => {
    expect(
      commonLabels([
        { a: '1', b: '2' },
        { a: '1', b: '3' },
      ]),
    ).toEqual({ a: '1' });
    expect(commonLabels([{ a: '1' }])).toEqual({});
  });
});
