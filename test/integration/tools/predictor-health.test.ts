import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, textOf, type Connected } from '../../support/mcp.ts';
import { freePort } from '../../support/ports.ts';
import { startPredictor, type Predictor } from '../../support/predictor.ts';

let predictor: Predictor;
let mcp: Connected;

async function check(session = mcp): Promise<any> {
  const result = await session.call('predictor_health', {});
  expect(result.isError, textOf(result)).toBeFalsy();
  return result.structuredContent;
}

async function traffic(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await (await fetch(`${predictor.url}/predict?symbol=ACME`)).text();
}

beforeAll(async () => {
  predictor = await startPredictor({ admin: true });
  mcp = await connect({ PREDICTOR_URL: predictor.url });
});

afterAll(async () => {
  await mcp.close();
  await predictor.close();
});

afterEach(() => {
  predictor.setFaults({});
});

describe('predictor_health against the real market predictor', () => {
  it('calls a quiet, working predictor healthy', async () => {
    await traffic(20);
    const out = await check();
    expect(out).toMatchObject({ target: 'default', status: 'healthy', reasons: [] });
    expect(out.health).toMatchObject({ http_status: 200, reported_status: 'ok', version: '1.4.0' });
    expect(out.checks.map((c: any) => c.name)).toEqual(['model_freshness', 'memory']);
    expect(out.traffic.error_ratio).toBe(0);
  });

  it('sees a raised error rate, over the time since the previous check', async () => {
    await check();
    predictor.setFaults({ error_rate: 1 });
    await traffic(10);
    const out = await check();
    expect(out.status).toBe('degraded');
    expect(out.traffic).toMatchObject({ requests: 10, error_ratio: 1 });
    expect(out.traffic.window).toMatch(/^last \d+ s$/);
    expect(out.reasons).toContainEqual(expect.stringMatching(/^100\.0% of requests failed \(5xx\)/));
    // Once the fault is gone, the next window is clean again.
    predictor.setFaults({});
    await traffic(10);
    expect((await check()).status).toBe('healthy');
  });

  it('sees added latency in the p95', async () => {
    await check();
    predictor.setFaults({ latency_ms: 1200 });
    await Promise.all(Array.from({ length: 4 }, () => traffic(1)));
    const out = await check();
    expect(out.status).toBe('degraded');
    expect(out.traffic.p95_seconds).toBeGreaterThan(1);
    expect(out.reasons).toContainEqual(expect.stringMatching(/^p95 latency/));
  });

  it("sees a stale model through the service's own check and the model age", async () => {
    predictor.setFaults({ stale_model: true });
    const out = await check();
    expect(out.status).toBe('degraded');
    expect(out.model_age_seconds).toBeGreaterThan(300);
    expect(out.reasons).toContainEqual(
      expect.stringMatching(/^check model_freshness fails: model is \d+ s old/),
    );
  });

  it('sees memory growth through the memory check', async () => {
    const leaky = await startPredictor({
      memoryLimitBytes: 48 * 1024 * 1024,
      faults: { memory_leak_mb_per_s: 40 },
    });
    const session = await connect({ PREDICTOR_URL: leaky.url });
    try {
      let out: any;
      for (let i = 0; i < 20; i++) {
        out = await check(session);
        if (out.status !== 'healthy') break;
        await new Promise(resolve => setTimeout(resolve, 250));
      }
      expect(out.status).toBe('degraded');
      expect(out.reasons).toContainEqual(expect.stringMatching(/^check memory fails/));
    } finally {
      await session.close();
      await leaky.close();
    }
  });

  it('sees the misconfigured moving-average window as failing predictions', async () => {
    const broken = await startPredictor({ window: 0 });
    const session = await connect({ PREDICTOR_URL: broken.url });
    try {
      for (let i = 0; i < 5; i++) await (await fetch(`${broken.url}/predict?symbol=ACME`)).text();
      const out = await check(session);
      expect(out.status).toBe('degraded');
      expect(out.traffic.error_ratio).toBe(1);
    } finally {
      await session.close();
      await broken.close();
    }
  });

  it('answers "down" for a stopped predictor', async () => {
    const session = await connect({ PREDICTOR_URL: `http://127.0.0.1:${await freePort()}` });
    const out = await check(session);
    expect(out.status).toBe('down');
    expect(out.reasons[0]).toMatch(/^\/health did not answer: .*connection refused/);
    await session.close();
  });

  it('answers "down" within its timeout for a predictor that accepts but never answers', async () => {
    const hung: Server = createServer(() => undefined);
    await new Promise<void>(resolve => hung.listen(0, '127.0.0.1', resolve));
    const port = (hung.address() as { port: number }).port;
    const session = await connect({ PREDICTOR_URL: `http://127.0.0.1:${port}` });
    try {
      const out = await check(session);
      expect(out.status).toBe('down');
      // Its own deadline ended the wait: a hung predictor is reported as down, with no status it never sent.
      expect(out.reasons[0]).toMatch(/^\/health did not answer: .*did not answer within 3000 ms/);
      expect(out.health.http_status).toBeUndefined();
    } finally {
      await session.close();
      hung.close();
    }
  });

  it('refuses a target that is not configured', async () => {
    const result = await mcp.call('predictor_health', { target: 'http://169.254.169.254' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^INVALID_ARGUMENT: Unknown target/);
  });
});

describe('predictor_health against a service that writes too much', () => {
  let service: HttpServer;
  let body: { health: string; metrics: string };
  let session: Connected;

  beforeAll(async () => {
    service = createHttpServer((req, res) => {
      res.end(req.url === '/health' ? body.health : body.metrics);
    });
    await new Promise<void>(resolve => service.listen(0, '127.0.0.1', resolve));
    session = await connect({
      PREDICTOR_URL: `http://127.0.0.1:${(service.address() as { port: number }).port}`,
    });
  });

  afterAll(async () => {
    await session.close();
    service.close();
  });

  it('keeps the result within the byte cap, and says what was left out', async () => {
    const checks = Object.fromEntries(
      Array.from({ length: 300 }, (_, i) => [
        `check_${i}_${'c'.repeat(1000)}`,
        { status: i < 20 ? 'fail' : 'ok', detail: 'd'.repeat(5000) },
      ]),
    );
    body = {
      health: JSON.stringify({ status: 'ok', version: 'v'.repeat(100_000), checks }),
      metrics: 'http_requests_total{code="200"} 5\n',
    };
    const result = await session.call('predictor_health', {});
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(Buffer.byteLength(textOf(result))).toBeLessThanOrEqual(8192);
    const out = result.structuredContent as any;
    expect(out.status).toBe('degraded');
    expect(out.health.version).toMatch(/^v+… \[\+\d+ chars\]$/);
    expect(out.reasons.at(-1)).toBe('10 more checks fail');
    expect(out.note).toMatch(/^Left out to fit 8\.0 KiB: \d+ of 300 checks, /);
  });

  it('sends what the service says of itself as printable text, scrubbed of secrets', async () => {
    // A password holding a control character: made printable, it must still read as the secret.
    const secret = 'hunter\u0007two-password';
    const port = (service.address() as { port: number }).port;
    const keyed = await connect({
      PREDICTOR_URL: `http://reader:${encodeURIComponent(secret)}@127.0.0.1:${port}`,
    });
    body = {
      health: JSON.stringify({
        status: 'ok',
        version: '1.4.0\u001b[2J\u202e',
        checks: { db: { status: 'fail', detail: `login as ${secret} failed \u001b]0;pwned\u0007` } },
      }),
      metrics: 'http_requests_total{code="200"} 5\n',
    };
    const result = await keyed.call('predictor_health', {});
    await keyed.close();
    expect(result.isError, textOf(result)).toBeFalsy();
    const out = result.structuredContent as any;
    expect(out.health.version).toBe('1.4.0␛[2J\ufffd');
    expect(out.checks).toEqual([{ name: 'db', ok: false, detail: 'login as [REDACTED] failed ␛]0;pwned␇' }]);
    expect(out.reasons).toEqual(['check db fails: login as [REDACTED] failed ␛]0;pwned␇']);
    expect(textOf(result)).not.toContain('hunter');
    expect(textOf(result)).not.toMatch(/\\u00(?:1b|07)|\\u202e/);
  });

  it('says a service that answered past the read cap answered, and calls it degraded, not down', async () => {
    body = { health: 'x'.repeat(5 * 1024 * 1024), metrics: 'http_requests_total{code="200"} 5\n' };
    const out = (await session.call('predictor_health', {})).structuredContent as any;
    expect(out.status).toBe('degraded');
    expect(out.reasons).toEqual([
      '/health answered with a body over the 4.0 MiB read cap; its status and checks were not read',
    ]);
  });
});
