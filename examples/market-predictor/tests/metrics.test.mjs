import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startPredictor } from '../src/app.mjs';
import { createRegistry } from '../src/metrics.mjs';
import { parseExposition, predictMany, scrape, total } from './helpers.mjs';

const ROUTES = new Set(['/predict', '/health', '/metrics', '/admin/faults', 'other']);

describe('GET /metrics', () => {
  let predictor;
  before(async () => (predictor = await startPredictor({ port: 0, admin: true, log: () => {} })));
  after(() => predictor.close());

  it('speaks text exposition format 0.0.4 with a HELP and TYPE for each family', async () => {
    const response = await fetch(`${predictor.url}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const families = parseExposition(await response.text());
    const types = Object.fromEntries([...families].map(([name, f]) => [name, f.type]));
    assert.deepEqual(types, {
      http_requests_total: 'counter',
      http_request_duration_seconds: 'histogram',
      predictions_total: 'counter',
      prediction_errors_total: 'counter',
      model_age_seconds: 'gauge',
      model_last_refresh_timestamp_seconds: 'gauge',
      loki_dropped_lines_total: 'counter',
      process_cpu_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      process_heap_bytes: 'gauge',
      nodejs_external_memory_bytes: 'gauge',
      process_start_time_seconds: 'gauge',
    });
    for (const family of families.values()) assert.ok(family.help.length > 0, family.name);
  });

  it('counts requests by route, method and code, and predictions by symbol', async () => {
    const before = await scrape(predictor.url);
    await predictMany(predictor.url, 5);
    await predictMany(predictor.url, 2, 'NOPE');
    const after = await scrape(predictor.url);
    const delta = (name, filter) => total(after, name, filter) - total(before, name, filter);
    const predict = code => l => l.route === '/predict' && l.method === 'GET' && l.code === code;
    assert.equal(delta('http_requests_total', predict('200')), 5);
    assert.equal(delta('http_requests_total', predict('404')), 2);
    assert.equal(
      delta('predictions_total', l => l.symbol === 'ACME'),
      5,
    );
    assert.equal(
      delta('http_request_duration_seconds_count', l => l.route === '/predict'),
      7,
    );
  });

  it('keeps histogram buckets cumulative, with +Inf equal to the count', async () => {
    await predictMany(predictor.url, 3);
    const families = await scrape(predictor.url);
    const { samples } = families.get('http_request_duration_seconds');
    const routes = new Set(samples.map(s => s.labels.route));
    assert.ok(routes.has('/predict'));
    for (const route of routes) {
      const buckets = samples.filter(s => s.name.endsWith('_bucket') && s.labels.route === route);
      const bounds = buckets.map(b => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
      assert.equal(bounds.at(-1), Infinity, 'the last bucket is +Inf');
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(bounds[i] > bounds[i - 1], `bounds ascend for ${route}`);
        assert.ok(buckets[i].value >= buckets[i - 1].value, `counts never fall for ${route}`);
      }
      const count = total(families, 'http_request_duration_seconds_count', l => l.route === route);
      assert.equal(buckets.at(-1).value, count);
      assert.ok(total(families, 'http_request_duration_seconds_sum', l => l.route === route) >= 0);
    }
  });

  it('maps query strings and unknown paths onto a fixed set of routes', async () => {
    for (const path of ['/predict?symbol=ACME&x=1', '/nope', '/predict/ACME', '/health/', '/x?y=z', '/%22'])
      await (await fetch(`${predictor.url}${path}`)).arrayBuffer();
    const families = await scrape(predictor.url);
    for (const family of ['http_requests_total', 'http_request_duration_seconds']) {
      for (const { labels } of families.get(family).samples)
        assert.ok(ROUTES.has(labels.route), labels.route);
    }
    assert.ok(total(families, 'http_requests_total', l => l.route === 'other' && l.code === '404') >= 5);
  });

  it('reports the model age and the process', async () => {
    const families = await scrape(predictor.url);
    const now = Date.now() / 1000;
    const age = total(families, 'model_age_seconds');
    assert.ok(age >= 0 && age < 60);
    assert.ok(Math.abs(total(families, 'model_last_refresh_timestamp_seconds') - (now - age)) < 5);
    assert.ok(total(families, 'process_start_time_seconds') <= now);
    assert.ok(total(families, 'process_resident_memory_bytes') > 0);
    assert.ok(total(families, 'process_heap_bytes') > 0);
    assert.ok(total(families, 'process_cpu_seconds_total') > 0);
  });
});

describe('the registry', () => {
  it('escapes label values and help text, and spells special values', () => {
    const registry = createRegistry();
    registry.counter('odd_total', 'Help with a \\ and a\nline feed.').inc({ value: 'a"b\\c\nd' });
    registry.collected('infinite', 'A gauge.', 'gauge', () => Infinity);
    const text = registry.render();
    assert.match(text, /^# HELP odd_total Help with a \\\\ and a\\nline feed\.$/m);
    assert.match(text, /^odd_total\{value="a\\"b\\\\c\\nd"\} 1$/m);
    assert.match(text, /^infinite \+Inf$/m);
    const families = parseExposition(text);
    assert.equal(families.get('odd_total').samples[0].labels.value, 'a"b\\c\nd');
  });

  it('keeps one series per label set, whatever the label order', () => {
    const registry = createRegistry();
    const counter = registry.counter('c_total', 'C.');
    counter.inc({ a: '1', b: '2' });
    counter.inc({ b: '2', a: '1' }, 2);
    assert.deepEqual(parseExposition(registry.render()).get('c_total').samples, [
      { name: 'c_total', labels: { a: '1', b: '2' }, value: 3 },
    ]);
  });
});
