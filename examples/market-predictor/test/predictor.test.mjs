import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { MOVING_AVERAGE_WINDOW } from '../src/config.mjs';
import { startPredictor } from '../src/app.mjs';

function parseMetrics(text) {
  const samples = [];
  const types = new Map();
  for (const line of text.trim().split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `unparsable metrics line: ${line}`);
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(m => [m[1], m[2]]),
    );
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return { samples, types };
}

const sum = (samples, name, filter = () => true) =>
  samples.filter(s => s.name === name && filter(s.labels)).reduce((total, s) => total + s.value, 0);

async function hit(url, times) {
  const statuses = [];
  for (let i = 0; i < times; i++) {
    const response = await fetch(`${url}/predict?symbol=ACME`);
    await response.text();
    statuses.push(response.status);
  }
  return statuses;
}

describe('market predictor', () => {
  const logs = [];
  let predictor;
  before(async () => {
    predictor = await startPredictor({ port: 0, admin: true, log: entry => logs.push(entry) });
  });
  after(() => predictor.close());

  it('predicts a moving average, and refuses bad or unknown symbols', async () => {
    const response = await fetch(`${predictor.url}/predict?symbol=ACME`);
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(body.symbol, 'ACME');
    assert.equal(body.window, MOVING_AVERAGE_WINDOW);
    assert.ok(body.prediction > 0);
    assert.equal((await fetch(`${predictor.url}/predict?symbol=acme!`)).status, 400);
    assert.equal((await fetch(`${predictor.url}/predict?symbol=NOPE`)).status, 404);
    assert.equal((await fetch(`${predictor.url}/predict`)).status, 400);
  });

  it('reports its health with its own checks', async () => {
    const response = await fetch(`${predictor.url}/health`);
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(body.status, 'ok');
    assert.equal(body.version, '1.4.0');
    assert.equal(body.checks.model_freshness.status, 'ok');
    assert.equal(body.checks.memory.status, 'ok');
  });

  it('exposes well-formed metrics that count requests', async () => {
    const before = parseMetrics(await (await fetch(`${predictor.url}/metrics`)).text());
    await hit(predictor.url, 5);
    await fetch(`${predictor.url}/some/unknown/path?x=1`);
    const response = await fetch(`${predictor.url}/metrics`);
    assert.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseMetrics(await response.text());
    assert.equal(types.get('http_requests_total'), 'counter');
    assert.equal(types.get('http_request_duration_seconds'), 'histogram');
    assert.equal(types.get('model_age_seconds'), 'gauge');
    const ok = l => l.route === '/predict' && l.code === '200';
    assert.equal(sum(samples, 'http_requests_total', ok) - sum(before.samples, 'http_requests_total', ok), 5);
    assert.ok(samples.some(s => s.name === 'http_requests_total' && s.labels.route === 'other'));
    const buckets = samples.filter(
      s => s.name === 'http_request_duration_seconds_bucket' && s.labels.route === '/predict',
    );
    for (let i = 1; i < buckets.length; i++)
      assert.ok(buckets[i].value >= buckets[i - 1].value, 'buckets are cumulative');
    const inf = buckets.find(b => b.labels.le === '+Inf');
    assert.equal(
      inf.value,
      sum(samples, 'http_request_duration_seconds_count', l => l.route === '/predict'),
    );
    for (const name of [
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'process_start_time_seconds',
    ]) {
      assert.ok(
        samples.some(s => s.name === name),
        name,
      );
    }
  });

  it('fails a share of predictions when error_rate is set, visibly in metrics and logs', async () => {
    const set = await fetch(`${predictor.url}/admin/faults`, {
      method: 'POST',
      body: JSON.stringify({ error_rate: 1 }),
    });
    assert.equal(set.status, 200);
    assert.deepEqual(await hit(predictor.url, 3), [500, 500, 500]);
    const { samples } = parseMetrics(await (await fetch(`${predictor.url}/metrics`)).text());
    assert.ok(sum(samples, 'http_requests_total', l => l.code === '500') >= 3);
    assert.ok(logs.some(l => l.level === 'error' && /prediction failed/.test(l.msg)));
    await fetch(`${predictor.url}/admin/faults`, { method: 'DELETE' });
    assert.deepEqual(await hit(predictor.url, 2), [200, 200]);
  });

  it('slows down when latency_ms is set, which the histogram shows', async () => {
    predictor.setFaults({ latency_ms: 300 });
    await hit(predictor.url, 2);
    predictor.setFaults({});
    const { samples } = parseMetrics(await (await fetch(`${predictor.url}/metrics`)).text());
    const bucket = le =>
      sum(samples, 'http_request_duration_seconds_bucket', l => l.route === '/predict' && l.le === le);
    assert.ok(bucket('+Inf') - bucket('0.25') >= 2, 'two requests slower than 250 ms');
  });

  it('reports a stale model as degraded health', async () => {
    predictor.setFaults({ stale_model: true });
    const body = await (await fetch(`${predictor.url}/health`)).json();
    const { samples } = parseMetrics(await (await fetch(`${predictor.url}/metrics`)).text());
    predictor.setFaults({});
    assert.equal(body.status, 'degraded');
    assert.equal(body.checks.model_freshness.status, 'fail');
    assert.ok(sum(samples, 'model_age_seconds') > 300);
  });

  it('refuses malformed fault settings', async () => {
    const response = await fetch(`${predictor.url}/admin/faults`, {
      method: 'POST',
      body: '{"error_rate":2}',
    });
    assert.equal(response.status, 400);
    assert.equal(
      (await fetch(`${predictor.url}/admin/faults`, { method: 'POST', body: '{"nope":1}' })).status,
      400,
    );
    assert.equal((await fetch(`${predictor.url}/admin/faults`, { method: 'POST', body: 'x' })).status, 400);
  });
});

describe('market predictor, misconfigured and misbehaving', () => {
  it('fails every prediction with window 0: the incident the loop must find', async () => {
    const logs = [];
    const predictor = await startPredictor({ port: 0, window: 0, log: entry => logs.push(entry) });
    try {
      assert.deepEqual(await hit(predictor.url, 2), [500, 500]);
      assert.ok(logs.some(l => l.level === 'error' && l.msg === 'prediction produced a non-finite value'));
      const { samples } = parseMetrics(await (await fetch(`${predictor.url}/metrics`)).text());
      assert.equal(
        sum(samples, 'http_requests_total', l => l.route === '/predict' && l.code === '500'),
        2,
      );
    } finally {
      await predictor.close();
    }
  });

  it('ships a good window value', () => {
    assert.ok(MOVING_AVERAGE_WINDOW >= 1);
  });

  it('fails its memory check when memory grows', async () => {
    const predictor = await startPredictor({
      port: 0,
      memoryLimitBytes: 64 * 1024 * 1024,
      faults: { memory_leak_mb_per_s: 40 },
      log: () => {},
    });
    try {
      let status;
      for (let i = 0; i < 30 && status !== 'fail'; i++) {
        await new Promise(resolve => setTimeout(resolve, 200));
        status = (await (await fetch(`${predictor.url}/health`)).json()).checks.memory.status;
      }
      assert.equal(status, 'fail');
    } finally {
      await predictor.close();
    }
  });

  it('admin endpoints are off unless enabled', async () => {
    const predictor = await startPredictor({ port: 0, log: () => {} });
    try {
      assert.equal(
        (await fetch(`${predictor.url}/admin/faults`, { method: 'POST', body: '{}' })).status,
        404,
      );
    } finally {
      await predictor.close();
    }
  });
});

describe('log shipping to Loki', () => {
  it('pushes JSON batches with nanosecond string timestamps and low-cardinality labels', async () => {
    const pushes = [];
    const loki = createServer((req, res) => {
      let body = '';
      req.on('data', chunk => (body += chunk));
      req.on('end', () => {
        pushes.push({ type: req.headers['content-type'], path: req.url, body: JSON.parse(body) });
        res.writeHead(204).end();
      });
    });
    await new Promise(resolve => loki.listen(0, '127.0.0.1', resolve));
    const predictor = await startPredictor({
      port: 0,
      lokiUrl: `http://127.0.0.1:${loki.address().port}`,
      log: () => {},
    });
    await hit(predictor.url, 3);
    await predictor.close();
    loki.close();
    assert.ok(pushes.length >= 1);
    const { type, path, body } = pushes[0];
    assert.equal(path, '/loki/api/v1/push');
    assert.equal(type, 'application/json');
    const stream = body.streams[0];
    assert.equal(stream.stream.service, 'market-predictor');
    assert.ok(['info', 'error', 'warn'].includes(stream.stream.level));
    assert.ok(!('request_id' in stream.stream));
    const [ts, line] = stream.values[0];
    assert.match(ts, /^\d{19}$/);
    assert.equal(JSON.parse(line).service, 'market-predictor');
  });

  it('keeps serving when Loki is unreachable', async () => {
    const predictor = await startPredictor({ port: 0, lokiUrl: 'http://127.0.0.1:9', log: () => {} });
    try {
      assert.deepEqual(await hit(predictor.url, 3), [200, 200, 200]);
    } finally {
      await predictor.close();
    }
  });
});
