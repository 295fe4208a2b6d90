import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { startPredictor } from '../src/app.mjs';
import { memoryInUse } from '../src/health.mjs';
import { getJson, predictMany, scrape, sendJson, startCapturing, total, waitFor } from './helpers.mjs';

const MIB = 1024 * 1024;
const MAX_MODEL_AGE = 120;

describe('fault modes', () => {
  let predictor;
  let logs;
  let faultsUrl;
  before(async () => {
    ({ predictor, logs } = await startCapturing({ admin: true, modelMaxAgeSeconds: MAX_MODEL_AGE }));
    faultsUrl = `${predictor.url}/admin/faults`;
  });
  afterEach(() => predictor.setFaults({}));
  after(() => predictor.close());

  it('are set, read and cleared through /admin/faults', async () => {
    assert.deepEqual((await getJson(faultsUrl)).body, {});
    const set = await sendJson(faultsUrl, 'POST', { latency_ms: 1, stale_model: false });
    assert.deepEqual(set, { status: 200, body: { latency_ms: 1, stale_model: false } });
    assert.deepEqual((await getJson(faultsUrl)).body, { latency_ms: 1, stale_model: false });
    assert.deepEqual(await sendJson(faultsUrl, 'DELETE'), { status: 200, body: {} });
    await sendJson(faultsUrl, 'POST', { error_rate: 0.1 });
    assert.deepEqual(await sendJson(faultsUrl, 'POST', {}), { status: 200, body: {} });
    assert.ok(logs.some(e => e.level === 'warn' && e.msg === 'fault modes set'));
  });

  it('refuse malformed settings with 400 and keep the current set', async () => {
    await sendJson(faultsUrl, 'POST', { latency_ms: 5 });
    for (const body of [
      'not json',
      '[1]',
      'null',
      { nope: 1 },
      { error_rate: 2 },
      { error_rate: '0.5' },
      { latency_ms: -1 },
      { stale_model: 'yes' },
      { memory_leak_mb_per_s: null },
    ]) {
      const { status, body: answer } = await sendJson(faultsUrl, 'POST', body);
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(typeof answer.error, 'string');
    }
    assert.deepEqual((await getJson(faultsUrl)).body, { latency_ms: 5 });
    assert.throws(() => predictor.setFaults({ error_rate: -1 }), TypeError);
  });

  it('error_rate fails that share of predictions, in the status codes, metrics and logs', async () => {
    const before = await scrape(predictor.url);
    await sendJson(faultsUrl, 'POST', { error_rate: 1 });
    assert.deepEqual(await predictMany(predictor.url, 4), [500, 500, 500, 500]);
    const after = await scrape(predictor.url);
    const delta = (name, filter) => total(after, name, filter) - total(before, name, filter);
    assert.equal(
      delta('http_requests_total', l => l.route === '/predict' && l.code === '500'),
      4,
    );
    assert.equal(
      delta('prediction_errors_total', l => l.reason === 'injected'),
      4,
    );
    const errors = logs.filter(e => e.level === 'error');
    assert.equal(errors.length, 4, 'one error line per failed request');
    for (const entry of errors) {
      assert.match(entry.msg, /^prediction failed: .*injected fault/);
      assert.equal(entry.status, 500);
    }

    predictor.setFaults({ error_rate: 0.5 });
    const mixed = await predictMany(predictor.url, 40);
    assert.ok(mixed.includes(200) && mixed.includes(500), 'some fail, some succeed');

    await sendJson(faultsUrl, 'DELETE');
    assert.deepEqual(await predictMany(predictor.url, 3), [200, 200, 200]);
  });

  it('latency_ms slows /predict down, which the histogram shows', async () => {
    const slowBucket = families =>
      total(
        families,
        'http_request_duration_seconds_bucket',
        l => l.route === '/predict' && l.le === '+Inf',
      ) -
      total(families, 'http_request_duration_seconds_bucket', l => l.route === '/predict' && l.le === '0.25');
    const before = await scrape(predictor.url);
    predictor.setFaults({ latency_ms: 300 });
    const started = performance.now();
    await Promise.all([predictMany(predictor.url, 1), predictMany(predictor.url, 1)]);
    assert.ok(performance.now() - started >= 250);
    assert.equal(slowBucket(await scrape(predictor.url)) - slowBucket(before), 2, 'two requests over 0.25 s');
  });

  it('stale_model degrades health by model_freshness and shows in model_age_seconds', async () => {
    predictor.setFaults({ stale_model: true });
    const { status, body } = await getJson(`${predictor.url}/health`);
    assert.equal(status, 200);
    assert.equal(body.status, 'degraded');
    const freshness = body.checks.find(c => c.name === 'model_freshness');
    assert.equal(freshness.status, 'fail');
    assert.match(freshness.detail, /^model is \d+ s old \(max 120 s\)$/);
    assert.ok(total(await scrape(predictor.url), 'model_age_seconds') > MAX_MODEL_AGE);

    const version = (await getJson(`${predictor.url}/predict?symbol=ACME`)).body.model_version;
    predictor.setFaults({});
    assert.equal((await getJson(`${predictor.url}/health`)).body.status, 'ok', 'refreshes resume at once');
    assert.ok(total(await scrape(predictor.url), 'model_age_seconds') < MAX_MODEL_AGE);
    assert.equal((await getJson(`${predictor.url}/predict?symbol=ACME`)).body.model_version, version + 1);
  });
});

describe('fault modes at start', () => {
  it('are active from the start when given as an option', async () => {
    const predictor = await startPredictor({
      port: 0,
      admin: true,
      faults: { error_rate: 1 },
      log: () => {},
    });
    try {
      assert.deepEqual((await getJson(`${predictor.url}/admin/faults`)).body, { error_rate: 1 });
      assert.deepEqual(await predictMany(predictor.url, 2), [500, 500]);
    } finally {
      await predictor.close();
    }
  });

  it('refuse to start with an invalid set', async () => {
    await assert.rejects(startPredictor({ port: 0, faults: { error_rate: 'high' } }), TypeError);
  });
});

describe('memory_leak_mb_per_s', () => {
  it('retains memory until the memory check fails', async () => {
    const { predictor } = await startCapturing({
      memoryLimitBytes: memoryInUse() + 16 * MIB,
      faults: { memory_leak_mb_per_s: 64 },
    });
    try {
      const external = total(await scrape(predictor.url), 'nodejs_external_memory_bytes');
      let body;
      await waitFor(async () => (body = (await getJson(`${predictor.url}/health`)).body).status !== 'ok');
      assert.equal(body.status, 'degraded');
      const memory = body.checks.find(c => c.name === 'memory');
      assert.equal(memory.status, 'fail');
      assert.match(memory.detail, /^heap and buffers hold \d+ MiB \(limit \d+ MiB\)$/);
      assert.ok(total(await scrape(predictor.url), 'nodejs_external_memory_bytes') > external + 8 * MIB);
    } finally {
      await predictor.close();
    }
  });
});

describe('the model refresh', () => {
  it('advances the model on schedule, and stops while stale_model is set', async () => {
    const { predictor, logs } = await startCapturing({ modelRefreshSeconds: 0.05 });
    const version = async () => (await getJson(`${predictor.url}/predict?symbol=ACME`)).body.model_version;
    try {
      await waitFor(async () => (await version()) > 2);
      assert.ok(logs.some(e => e.msg === 'model refreshed'));
      predictor.setFaults({ stale_model: true });
      const frozen = await version();
      await new Promise(resolve => setTimeout(resolve, 200));
      assert.equal(await version(), frozen);
    } finally {
      await predictor.close();
    }
  });
});
