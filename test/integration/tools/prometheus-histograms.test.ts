// Histograms on a real Prometheus: native ones (scraped as protobuf, behind Prometheus 2.42's feature flag)
// through query_prometheus, and classic ones and summaries, whose series explore_prometheus must type.

import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, textOf, type Connected } from '../../support/mcp.ts';
import { startPrometheus, type PrometheusServer } from '../../support/prometheus.ts';

// The few protobuf encodings the io.prometheus.client.MetricFamily exposition needs.
const varint = (value: number): number[] => {
  const out: number[] = [];
  let rest = value;
  do {
    out.push((rest & 0x7f) | (rest > 0x7f ? 0x80 : 0));
    rest = Math.floor(rest / 128);
  } while (rest > 0);
  return out;
};
const key = (field: number, wire: number) => varint(field * 8 + wire);
const zigzag = (value: number) => (value < 0 ? -2 * value - 1 : 2 * value);
const bytesField = (field: number, bytes: number[]) => [...key(field, 2), ...varint(bytes.length), ...bytes];
const text = (field: number, value: string) => bytesField(field, [...Buffer.from(value)]);
const uint = (field: number, value: number) => [...key(field, 0), ...varint(value)];
const sint = (field: number, value: number) => uint(field, zigzag(value));
const double = (field: number, value: number) => {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(value);
  return [...key(field, 1), ...bytes];
};

const HISTOGRAM = 4;
const GAUGE = 1;
let observed = 0;

/**
 * A native histogram `nh_seconds` (schema 0: buckets (1,2], (2,4], (4,8], (8,16]) that gains ten observations
 * per scrape, and a gauge `plain_gauge`, as one delimited protobuf body.
 */
function exposition(): Buffer {
  observed += 10;
  const perBucket = observed / 10; // each scrape observes 1.5 ×2, 3 ×3, 6 ×3 and 12 ×2
  const counts = [2, 3, 3, 2].map(n => n * perBucket);
  const histogram = [
    ...uint(1, observed), // sample_count
    ...double(2, (1.5 * 2 + 3 * 3 + 6 * 3 + 12 * 2) * perBucket), // sample_sum
    ...sint(5, 0), // schema
    ...double(6, 1e-128), // zero_threshold
    ...uint(7, 0), // zero_count
    ...bytesField(12, [...sint(1, 1), ...uint(2, 4)]), // positive_span: offset 1, 4 buckets
    ...counts.flatMap((count, i) => sint(13, count - (counts[i - 1] ?? 0))), // positive_delta
  ];
  const families = [
    [
      ...text(1, 'nh_seconds'),
      ...text(2, 'Latency.'),
      ...uint(3, HISTOGRAM),
      ...bytesField(4, [
        ...bytesField(1, [...text(1, 'route'), ...text(2, '/predict')]),
        ...bytesField(7, histogram),
      ]),
    ],
    [
      ...text(1, 'plain_gauge'),
      ...text(2, 'A gauge.'),
      ...uint(3, GAUGE),
      ...bytesField(4, bytesField(2, double(1, 7))),
    ],
  ];
  return Buffer.from(families.flatMap(family => [...varint(family.length), ...family]));
}

const CLASSIC = [
  '# HELP lat_seconds Request latency.',
  '# TYPE lat_seconds histogram',
  'lat_seconds_bucket{le="0.1"} 1',
  'lat_seconds_bucket{le="+Inf"} 2',
  'lat_seconds_sum 0.3',
  'lat_seconds_count 2',
  '# HELP rpc_seconds RPC latency.',
  '# TYPE rpc_seconds summary',
  'rpc_seconds{quantile="0.5"} 0.1',
  'rpc_seconds_sum 1',
  'rpc_seconds_count 3',
  '',
].join('\n');

let dir: string;
let native: Server;
let classic: Server;
let prometheus: PrometheusServer;
let mcp: Connected;

async function listen(server: Server): Promise<string> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function query(expr: string): Promise<number> {
  const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as { data: { result: Array<{ value: [number, string] }> } };
  return Number(body.data.result[0]?.value[1] ?? 0);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'devops-mcp-nh-'));
  // Native histograms are behind a feature flag in Prometheus 2.42.
  const binary = join(dir, 'prometheus');
  await writeFile(binary, '#!/bin/sh\nexec prometheus --enable-feature=native-histograms "$@"\n');
  await chmod(binary, 0o755);
  native = createServer((_req, res) => {
    res.writeHead(200, {
      'content-type':
        'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited',
    });
    res.end(exposition());
  });
  classic = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(CLASSIC);
  });
  prometheus = await startPrometheus({ targets: [await listen(native), await listen(classic)], binary });
  // Four scrapes of the histogram and the metadata of the classic target, at one a second.
  for (let i = 0; i < 200; i++) {
    const scrapes = await query('count_over_time(plain_gauge[1m])');
    const classicSeen = await query('count(lat_seconds_count)');
    if (scrapes >= 4 && classicSeen > 0) break;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  mcp = await connect({ PROMETHEUS_URL: prometheus.url });
});

afterAll(async () => {
  await mcp.close();
  await prometheus.stop();
  native.close();
  classic.close();
  await rm(dir, { recursive: true, force: true });
});

const call = async (name: string, args: Record<string, unknown>) => {
  const result = await mcp.call(name, args);
  expect(result.isError, textOf(result)).toBeFalsy();
  return result.structuredContent as Record<string, any>;
};

describe('query_prometheus on native histograms', () => {
  it('shows an instant histogram by its count and sum, and says how to query it', async () => {
    const out = await call('query_prometheus', { query: 'nh_seconds' });
    const [series] = out.series;
    expect(series.labels).toMatchObject({ __name__: 'nh_seconds', route: '/predict' });
    expect(series.value).toBeUndefined();
    expect(series.histogram.count).toBeGreaterThanOrEqual(40);
    expect(series.histogram.sum).toBeCloseTo(5.4 * series.histogram.count, 6);
    expect(out.note).toContain('histogram_quantile(0.9, rate(<metric>[5m]))');
  });

  it('keeps the float series of a selector that also matches a histogram', async () => {
    const out = await call('query_prometheus', { query: '{__name__=~"nh_seconds|plain_gauge"}' });
    const byName = Object.fromEntries(out.series.map((s: any) => [s.labels.__name__, s]));
    expect(byName.plain_gauge).toMatchObject({ value: 7 });
    expect(byName.nh_seconds.histogram.count).toBeGreaterThan(0);
  });

  it('summarizes histograms over a range, as a range query and as an instant range selector', async () => {
    for (const args of [
      { query: 'nh_seconds', start: 'now-1m' },
      { query: 'rate(nh_seconds[10s])', start: 'now-1m' },
      { query: 'nh_seconds[1m]' },
    ]) {
      const [series] = (await call('query_prometheus', args)).series;
      expect(series.histogram.samples, args.query).toBeGreaterThanOrEqual(2);
      expect(series.histogram.count.last, args.query).toBeGreaterThanOrEqual(series.histogram.count.first);
      expect(series.histogram.sum.max, args.query).toBeGreaterThan(0);
    }
  });
});

describe('explore_prometheus on histograms and summaries', () => {
  it("types the _bucket, _count and _sum series by their family's metadata", async () => {
    const out = await call('explore_prometheus', { search: '_seconds' });
    const byName = Object.fromEntries(out.metrics.map((m: any) => [m.name, m]));
    for (const name of ['lat_seconds_bucket', 'lat_seconds_count', 'lat_seconds_sum']) {
      expect(byName[name], name).toEqual({ name, type: 'histogram', help: 'Request latency.' });
    }
    expect(byName.rpc_seconds_count).toEqual({
      name: 'rpc_seconds_count',
      type: 'summary',
      help: 'RPC latency.',
    });
    expect(byName.nh_seconds).toMatchObject({ type: 'histogram' });
  });
});
