import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { startPredictor } from '../src/app.mjs';
import { createLokiShipper } from '../src/loki.mjs';
import { predictMany, scrape, total, waitFor } from './helpers.mjs';

/** A stand-in for Loki on a loopback port: records each push, answering with `status(n)` (204 by default). */
async function fakeLoki(status = () => 204) {
  const pushes = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    pushes.push({
      method: req.method,
      path: req.url,
      type: req.headers['content-type'],
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
    });
    res.writeHead(status(pushes.length)).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    pushes,
    lines: () => pushes.flatMap(p => p.body.streams.flatMap(s => s.values.map(([, line]) => line))),
    close: () => new Promise(resolve => server.close(resolve)),
  };
}

/** A loopback URL where nothing listens. */
async function deadUrl() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise(resolve => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

describe('log shipping to Loki', () => {
  it('pushes every log line as JSON, with nanosecond timestamps and low-cardinality labels', async () => {
    const loki = await fakeLoki();
    const logged = [];
    const predictor = await startPredictor({ port: 0, lokiUrl: loki.url, log: e => logged.push(e) });
    try {
      await predictMany(predictor.url, 3);
      await predictMany(predictor.url, 1, 'NOPE');
      await waitFor(() => loki.pushes.length > 0); // the periodic flush, before any shutdown
    } finally {
      await predictor.close();
      await loki.close();
    }
    for (const { method, path, type, body } of loki.pushes) {
      assert.equal(method, 'POST');
      assert.equal(path, '/loki/api/v1/push');
      assert.equal(type, 'application/json');
      assert.deepEqual(Object.keys(body), ['streams']);
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      for (const { stream, values } of body.streams) {
        assert.deepEqual(Object.keys(stream).sort(), ['level', 'service']);
        assert.equal(stream.service, 'market-predictor');
        let previous = 0n;
        for (const [ts, line] of values) {
          assert.equal(typeof ts, 'string');
          assert.match(ts, /^\d{19}$/);
          assert.ok(BigInt(ts) > previous && nowNs - BigInt(ts) < 60_000_000_000n);
          previous = BigInt(ts);
          assert.equal(JSON.parse(line).level, stream.level);
        }
      }
    }
    // Everything logged got shipped, shutdown lines included, each line exactly as logged.
    assert.deepEqual(loki.lines().sort(), logged.map(e => JSON.stringify(e)).sort());
    assert.ok(logged.some(e => e.msg === 'market predictor stopped'));
  });

  it('keeps serving while Loki is unreachable, and says so once', async () => {
    const logged = [];
    const predictor = await startPredictor({ port: 0, lokiUrl: await deadUrl(), log: e => logged.push(e) });
    try {
      assert.deepEqual(await predictMany(predictor.url, 5), [200, 200, 200, 200, 200]);
      await waitFor(() => logged.some(e => e.msg.startsWith('loki push failing')));
      assert.deepEqual(await predictMany(predictor.url, 2), [200, 200]);
      assert.equal(total(await scrape(predictor.url), 'loki_dropped_lines_total'), 0);
    } finally {
      await predictor.close();
    }
    const warnings = logged.filter(e => e.msg.startsWith('loki push failing'));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].error, /ECONNREFUSED/);
  });
});

describe('the Loki shipper', () => {
  it('drops and counts the oldest lines beyond its buffer', async () => {
    const shipper = createLokiShipper({ url: await deadUrl(), labels: {}, flushMs: 60_000, maxBuffer: 5 });
    for (let i = 0; i < 12; i++) shipper.push(Date.now(), 'info', `line ${i}`);
    assert.equal(shipper.dropped, 7);
    await shipper.close();
    assert.equal(shipper.dropped, 7, 'a failed push puts its lines back');
  });

  it('retries what Loki could not take for the moment', async () => {
    const loki = await fakeLoki(n => (n === 1 ? 503 : 204));
    const statuses = [];
    const shipper = createLokiShipper({
      url: loki.url,
      labels: { service: 's' },
      flushMs: 20,
      onStatus: e => statuses.push(e),
    });
    try {
      shipper.push(Date.now(), 'info', 'one');
      shipper.push(Date.now(), 'error', 'two');
      await waitFor(() => loki.pushes.length >= 2);
      assert.deepEqual(loki.lines(), ['one', 'two', 'one', 'two']);
      assert.match(String(statuses[0]), /HTTP 503/);
      assert.equal(statuses[1], undefined, 'told when pushing works again');
    } finally {
      await shipper.close();
      await loki.close();
    }
  });

  it('drops and counts a batch Loki refuses for good', async () => {
    const loki = await fakeLoki(() => 400);
    const shipper = createLokiShipper({ url: loki.url, labels: {}, flushMs: 60_000 });
    try {
      shipper.push(Date.now(), 'info', 'one');
      shipper.push(Date.now(), 'info', 'two');
      await shipper.close();
      assert.equal(loki.pushes.length, 1, 'not retried');
      assert.equal(shipper.dropped, 2);
    } finally {
      await loki.close();
    }
  });

  it('gives up on a Loki that never answers, without holding up shutdown', async () => {
    const hung = createServer(() => {});
    hung.listen(0, '127.0.0.1');
    await once(hung, 'listening');
    const statuses = [];
    const shipper = createLokiShipper({
      url: `http://127.0.0.1:${hung.address().port}`,
      labels: {},
      timeoutMs: 200,
      onStatus: e => statuses.push(e),
    });
    shipper.push(Date.now(), 'info', 'line');
    await shipper.close();
    assert.equal(statuses.length, 1);
    assert.match(String(statuses[0]), /timeout|aborted/i);
    hung.closeAllConnections();
    hung.close();
  });
});
