import { describe, expect, it } from 'vitest';
import { columnsOf } from '../../../src/lib/series.ts';
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

  it('reports a burst as a spike with its time', () => {
    const shaped = shapeRange(makeSeries(10, 300), ctx, options);
    const burst = shaped.series.find(s => s.labels.instance === 'host-7:9100');
    expect(burst?.spikes?.[0]).toEqual({ at: '2025-11-24T16:05:00Z', value: 500 });
    expect(burst?.max_at).toBe('2025-11-24T16:05:00Z');
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

  it('falls back to summaries when even format "full" cannot hold the points', () => {
    const shaped = shapeRange(makeSeries(40), ctx, { ...options, format: 'full', maxBytes: 32_768 });
    expect(size({ ...base, ...shaped })).toBeLessThanOrEqual(32_768);
    expect(shaped.series[0]?.values).toBeUndefined();
    expect(shaped.truncated).toBe(true);
    expect(shaped.note).toContain('summaries shown instead');
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
