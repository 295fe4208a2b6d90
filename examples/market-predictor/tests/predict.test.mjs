import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startPredictor } from '../src/app.mjs';
import { MOVING_AVERAGE_WINDOW, SYMBOLS } from '../src/config.mjs';
import { assessHealth } from '../src/health.mjs';
import { movingAverage } from '../src/model.mjs';
import { getJson, startCapturing } from './helpers.mjs';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

describe('GET /predict', () => {
  let predictor;
  let logs;
  before(async () => ({ predictor, logs } = await startCapturing()));
  after(() => predictor.close());

  it('forecasts every known symbol', async () => {
    for (const symbol of SYMBOLS) {
      const { status, headers, body } = await getJson(`${predictor.url}/predict?symbol=${symbol}`);
      assert.equal(status, 200);
      assert.match(headers.get('content-type'), /^application\/json/);
      assert.deepEqual(Object.keys(body), [
        'symbol',
        'prediction',
        'window',
        'model_version',
        'generated_at',
      ]);
      assert.equal(body.symbol, symbol);
      assert.ok(Number.isFinite(body.prediction) && body.prediction > 0);
      assert.equal(body.window, MOVING_AVERAGE_WINDOW);
      assert.ok(Number.isInteger(body.model_version));
      assert.match(body.generated_at, RFC3339);
    }
  });

  it('seeds the same prices on every start', async () => {
    const other = await startPredictor({ port: 0, log: () => {} });
    try {
      const ours = await getJson(`${predictor.url}/predict?symbol=GLOBEX`);
      const theirs = await getJson(`${other.url}/predict?symbol=GLOBEX`);
      assert.equal(ours.body.prediction, theirs.body.prediction);
    } finally {
      await other.close();
    }
  });

  it('takes the symbol in any case', async () => {
    const { status, body } = await getJson(`${predictor.url}/predict?symbol=acme`);
    assert.equal(status, 200);
    assert.equal(body.symbol, 'ACME');
  });

  it('answers 400 for a missing or malformed symbol', async () => {
    for (const query of ['', '?symbol=', '?symbol=AC-ME', '?symbol=ABCDEFGHIJK', '?sym=ACME']) {
      const { status, body } = await getJson(`${predictor.url}/predict${query}`);
      assert.equal(status, 400, query);
      assert.equal(typeof body.error, 'string');
    }
  });

  it('answers 404 for an unknown symbol', async () => {
    const { status, body } = await getJson(`${predictor.url}/predict?symbol=NOPE`);
    assert.equal(status, 404);
    assert.match(body.error, /unknown symbol "NOPE"/);
  });

  it('answers 404 for unknown paths and 405 for a wrong method', async () => {
    assert.equal((await getJson(`${predictor.url}/predictions`)).status, 404);
    const response = await fetch(`${predictor.url}/predict?symbol=ACME`, { method: 'POST' });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET');
  });

  it('logs each request as one structured entry, with the id it answers in x-request-id', async () => {
    const { headers } = await getJson(`${predictor.url}/predict?symbol=INITECH`);
    const id = headers.get('x-request-id');
    const entry = logs.find(e => e.request_id === id);
    assert.ok(entry, 'a log entry for the request');
    assert.match(entry.ts, RFC3339);
    assert.equal(entry.level, 'info');
    assert.equal(entry.msg, 'request');
    assert.equal(entry.route, '/predict');
    assert.equal(entry.status, 200);
    assert.equal(entry.symbol, 'INITECH');
    assert.equal(typeof entry.duration_ms, 'number');
  });

  it('keeps /admin/faults off unless admin is enabled', async () => {
    assert.equal((await getJson(`${predictor.url}/admin/faults`)).status, 404);
    const response = await fetch(`${predictor.url}/admin/faults`, {
      method: 'POST',
      body: '{"error_rate":1}',
    });
    assert.equal(response.status, 404);
    assert.equal((await getJson(`${predictor.url}/predict?symbol=ACME`)).status, 200);
  });
});

describe('GET /health', () => {
  it('reports ok with its version, uptime and passing checks', async () => {
    const predictor = await startPredictor({ port: 0, log: () => {} });
    try {
      const { status, body } = await getJson(`${predictor.url}/health`);
      assert.equal(status, 200);
      assert.equal(body.status, 'ok');
      assert.equal(body.version, version);
      assert.ok(body.uptime_seconds >= 0);
      assert.deepEqual(
        body.checks.map(c => [c.name, c.status]),
        [
          ['model_freshness', 'ok'],
          ['memory', 'ok'],
        ],
      );
      for (const check of body.checks) assert.equal(typeof check.detail, 'string');
    } finally {
      await predictor.close();
    }
  });

  it('is degraded when a check fails, and down while shutting down', () => {
    const healthy = {
      modelAgeSeconds: 10,
      maxModelAgeSeconds: 300,
      memoryBytes: 1,
      memoryLimitBytes: 2,
      draining: false,
    };
    assert.equal(assessHealth(healthy).status, 'ok');
    assert.equal(assessHealth({ ...healthy, modelAgeSeconds: 301 }).status, 'degraded');
    assert.equal(assessHealth({ ...healthy, memoryBytes: 3 }).status, 'degraded');
    assert.equal(assessHealth({ ...healthy, draining: true }).status, 'down');
  });
});

describe('movingAverage', () => {
  it('averages the last `window` prices', () => {
    assert.equal(movingAverage([1, 2, 3, 4], 2), 3.5);
    assert.equal(movingAverage([1, 2, 3, 4], 4), 2.5);
  });
});

describe('close()', () => {
  it('lets in-flight requests finish, then refuses connections', async () => {
    const predictor = await startPredictor({ port: 0, log: () => {}, faults: { latency_ms: 200 } });
    await (await fetch(`${predictor.url}/health`)).arrayBuffer(); // leaves an idle keep-alive connection
    const inFlight = fetch(`${predictor.url}/predict?symbol=ACME`);
    await new Promise(resolve => setTimeout(resolve, 50));
    const started = performance.now();
    await predictor.close();
    assert.ok(performance.now() - started < 2500, 'no connection held the shutdown up');
    assert.equal((await inFlight).status, 200);
    await assert.rejects(fetch(`${predictor.url}/health`), error => error.cause?.code === 'ECONNREFUSED');
  });
});
