import { describe, expect, it } from 'vitest';
import type { Probe } from '../../../src/clients/predictor.ts';
import { histogramQuantile, parseExposition } from '../../../src/lib/exposition.ts';
import { assess } from '../../../src/lib/health.ts';
import { fitHealth, predictorHealth } from '../../../src/tools/predictor-health.ts';

const limits = { maxErrorRatio: 0.05, maxP95Seconds: 1, slowHealthMs: 1000 };
const T = 1_764_000_000;

function metrics(ok: number, failed: number, slow = 0): string {
  return [
    '# HELP http_requests_total Requests by route and code.',
    '# TYPE http_requests_total counter',
    `http_requests_total{route="/predict",method="GET",code="200"} ${ok}`,
    `http_requests_total{route="/predict",method="GET",code="500"} ${failed}`,
    '# TYPE http_request_duration_seconds histogram',
    `http_request_duration_seconds_bucket{route="/predict",le="0.1"} ${ok + failed - slow}`,
    `http_request_duration_seconds_bucket{route="/predict",le="0.5"} ${ok + failed - slow}`,
    `http_request_duration_seconds_bucket{route="/predict",le="2.5"} ${ok + failed}`,
    `http_request_duration_seconds_bucket{route="/predict",le="+Inf"} ${ok + failed}`,
    `http_request_duration_seconds_count{route="/predict"} ${ok + failed}`,
    'model_age_seconds 42.5',
  ].join('\n');
}

const healthy = (body: unknown, status = 200, ms = 5) => ({ status, ms, body: JSON.stringify(body) });

describe('parseExposition', () => {
  it('reads names, escaped label values and special values', () => {
    expect(
      parseExposition('a_total{path="/x\\"y",le="+Inf"} 3\nb NaN\nc -Inf 1700000000000\n# comment\nbad{ 1'),
    ).toEqual([
      { name: 'a_total', labels: { path: '/x"y', le: '+Inf' }, value: 3 },
      { name: 'b', labels: {}, value: Number.NaN },
      { name: 'c', labels: {}, value: Number.NEGATIVE_INFINITY },
    ]);
  });

  it('interpolates histogram quantiles like histogram_quantile', () => {
    expect(
      histogramQuantile(0.5, [
        [0.1, 50],
        [0.5, 100],
        [Number.POSITIVE_INFINITY, 100],
      ]),
    ).toBeCloseTo(0.1);
    expect(
      histogramQuantile(0.95, [
        [0.1, 0],
        [1, 100],
        [Number.POSITIVE_INFINITY, 100],
      ]),
    ).toBeCloseTo(0.955);
    expect(histogramQuantile(0.95, [[1, 0]])).toBeUndefined();
  });

  it('reads what promtool accepts and skips what it refuses', () => {
    expect(
      parseExposition(
        [
          'http_requests_total {route="/x",code="500"} 7',
          'x_total +inf',
          'z_total -INF',
          'w_total nan',
          'y_total',
          'v_total{code="500"}',
          'u_total+1',
        ].join('\n'),
      ),
    ).toEqual([
      { name: 'http_requests_total', labels: { route: '/x', code: '500' }, value: 7 },
      { name: 'x_total', labels: {}, value: Number.POSITIVE_INFINITY },
      { name: 'z_total', labels: {}, value: Number.NEGATIVE_INFINITY },
      { name: 'w_total', labels: {}, value: Number.NaN },
    ]);
  });
});

describe('assess', () => {
  it('calls a service with passing checks and clean traffic healthy', () => {
    const probe: Probe = {
      health: healthy({
        status: 'ok',
        version: '1.2.0',
        uptime_seconds: 3600.4,
        checks: { model_freshness: { status: 'ok' } },
      }),
      metrics: { status: 200, ms: 3, body: metrics(1000, 2) },
    };
    const verdict = assess(probe, undefined, T, limits);
    expect(verdict).toMatchObject({
      status: 'healthy',
      reasons: [],
      health: { http_status: 200, reported_status: 'ok', version: '1.2.0', uptime_seconds: 3600 },
      checks: [{ name: 'model_freshness', ok: true }],
      traffic: { window: 'since the process started 3600 s ago', requests: 1002, error_ratio: 0.002 },
      model_age_seconds: 43,
    });
  });

  it('reports failing checks and a high error ratio as degraded, with reasons', () => {
    const probe: Probe = {
      health: healthy({
        status: 'degraded',
        checks: [{ name: 'model_freshness', status: 'fail', detail: 'model is 2h old' }],
      }),
      metrics: { status: 200, ms: 3, body: metrics(80, 20) },
    };
    const verdict = assess(probe, undefined, T, limits);
    expect(verdict.status).toBe('degraded');
    expect(verdict.reasons).toEqual([
      'the service reports status "degraded"',
      'check model_freshness fails: model is 2h old',
      '20.0% of requests failed (5xx) since the process started (limit 5%)',
    ]);
  });

  it('computes rates between two checks, so an old incident does not linger', () => {
    const first = assess(
      { health: healthy({ status: 'ok' }), metrics: { status: 200, ms: 1, body: metrics(100, 50) } },
      undefined,
      T,
      limits,
    );
    const second = assess(
      { health: healthy({ status: 'ok' }), metrics: { status: 200, ms: 1, body: metrics(600, 50) } },
      first.counters,
      T + 60,
      limits,
    );
    expect(second.traffic).toMatchObject({ window: 'last 60 s', requests: 500, error_ratio: 0 });
    expect(second.status).toBe('healthy');
  });

  describe('after a restart', () => {
    const at = (uptime?: number) =>
      healthy({ status: 'ok', ...(uptime === undefined ? {} : { uptime_seconds: uptime }) });
    const during = (uptime?: number) =>
      assess(
        { health: at(uptime), metrics: { status: 200, ms: 1, body: metrics(40, 60, 60) } },
        undefined,
        T,
        limits,
      );

    it('sees one by the uptime, though the new process served more than the old one', () => {
      const first = during(1000);
      // 5 minutes later, restarted 20 s ago: 150 good and 70 failed requests, more of each than before.
      const second = assess(
        { health: at(20), metrics: { status: 200, ms: 1, body: metrics(150, 70, 70) } },
        first.counters,
        T + 300,
        limits,
      );
      expect(second.traffic).toMatchObject({
        window: 'since a restart 20 s ago',
        requests: 220,
        error_ratio: 0.3182,
      });
      expect(second.status).toBe('degraded');
      expect(second.reasons).toContain('31.8% of requests failed (5xx) since a restart 20 s ago (limit 5%)');
    });

    it('sees one, without an uptime, when most series went down', () => {
      const first = during();
      // Every series counts less than before: a new process.
      const restartedNow = assess(
        { health: at(), metrics: { status: 200, ms: 1, body: metrics(30, 5, 0) } },
        first.counters,
        T + 300,
        limits,
      );
      expect(restartedNow.traffic).toMatchObject({
        window: 'since a restart in the last 300 s',
        requests: 35,
      });
      // A process up since before the previous check that counts less did not restart.
      const dropped = assess(
        { health: at(5000), metrics: { status: 200, ms: 1, body: metrics(150, 10, 0) } },
        first.counters,
        T + 300,
        limits,
      );
      expect(dropped.traffic).toMatchObject({ window: 'last 300 s' });
    });

    it('takes what each series counted when one resets, appears or goes away, as increase() does', () => {
      const before = assess(
        {
          health: at(),
          metrics: {
            status: 200,
            ms: 1,
            body: [
              'http_requests_total{route="/predict",code="200"} 995000',
              'http_requests_total{route="/predict",code="500"} 1000',
              'http_requests_total{route="/legacy",code="200"} 5000',
            ].join('\n'),
          },
        },
        undefined,
        T,
        limits,
      );
      // A minute later /legacy is retired (its series gone) and half of /predict fails.
      const outage = assess(
        {
          health: at(),
          metrics: {
            status: 200,
            ms: 1,
            body: [
              'http_requests_total{route="/predict",code="200"} 996000',
              'http_requests_total{route="/predict",code="500"} 2000',
            ].join('\n'),
          },
        },
        before.counters,
        T + 60,
        limits,
      );
      expect(outage.traffic).toMatchObject({ window: 'last 60 s', requests: 2000, error_ratio: 0.5 });
      expect(outage.status).toBe('degraded');
      // One series reset on its own (label churn): its count is what it counted since.
      const churn = assess(
        {
          health: at(),
          metrics: {
            status: 200,
            ms: 1,
            body: [
              'http_requests_total{route="/predict",code="200"} 996500',
              'http_requests_total{route="/predict",code="500"} 300',
            ].join('\n'),
          },
        },
        outage.counters,
        T + 120,
        limits,
      );
      expect(churn.traffic).toMatchObject({ window: 'last 60 s', requests: 800, error_ratio: 0.375 });
    });

    it('never reports negative figures', () => {
      const first = during(1000);
      for (const [ok, failed, slow] of [
        [150, 0, 0],
        [60, 61, 0],
        [1000, 60, 0],
      ] as const) {
        const next = assess(
          { health: at(20), metrics: { status: 200, ms: 1, body: metrics(ok, failed, slow) } },
          first.counters,
          T + 300,
          limits,
        );
        expect(next.traffic?.requests).toBe(ok + failed);
        expect(next.traffic?.error_ratio).toBeGreaterThanOrEqual(0);
        expect(next.traffic?.p95_seconds ?? 0).toBeGreaterThanOrEqual(0);
      }
    });

    it('keeps to the time between checks when the uptime covers it', () => {
      const first = during(1000);
      const second = assess(
        { health: at(1300), metrics: { status: 200, ms: 1, body: metrics(540, 60, 60) } },
        first.counters,
        T + 300,
        limits,
      );
      expect(second.traffic).toMatchObject({ window: 'last 300 s', requests: 500, error_ratio: 0 });
    });
  });

  it('sees slow requests in the p95', () => {
    const verdict = assess(
      { health: healthy({ status: 'ok' }), metrics: { status: 200, ms: 1, body: metrics(100, 0, 10) } },
      undefined,
      T,
      limits,
    );
    expect(verdict.traffic?.p95_seconds).toBeGreaterThan(1);
    expect(verdict.reasons[0]).toMatch(/^p95 latency 1\.\d+ s/);
  });

  it('says so when /health answers JSON that is not an object (null, an array, a number, a string)', () => {
    for (const body of [null, [], 42, 'ok']) {
      const verdict = assess(
        { health: healthy(body), metrics: { status: 200, ms: 1, body: metrics(10, 0) } },
        undefined,
        T,
        limits,
      );
      expect(verdict.status).toBe('degraded');
      expect(verdict.reasons).toEqual(['/health body is not a JSON object']);
      expect(verdict.checks).toEqual([]);
    }
  });

  it('calls an unreachable or failing /health down', () => {
    const refused = assess(
      { health: { ms: 2, error: 'connection refused' }, metrics: { ms: 2, error: 'connection refused' } },
      undefined,
      T,
      limits,
    );
    expect(refused.status).toBe('down');
    expect(refused.reasons[0]).toBe('/health did not answer: connection refused');
    const failing = assess(
      { health: healthy({ status: 'down' }, 503), metrics: { status: 200, ms: 1, body: '' } },
      undefined,
      T,
      limits,
    );
    expect(failing.status).toBe('down');
  });

  it('reads a reported "down" in any case', () => {
    const verdict = assess(
      { health: healthy({ status: 'DOWN' }), metrics: { status: 200, ms: 1, body: metrics(10, 0) } },
      undefined,
      T,
      limits,
    );
    expect(verdict.status).toBe('down');
    expect(verdict.reasons).toContain('/health answered HTTP 200 with status "DOWN"');
  });

  describe('figures that are not finite numbers', () => {
    const probe = (metricsBody: string): Probe => ({
      health: healthy({ status: 'ok' }),
      metrics: { status: 200, ms: 1, body: metricsBody },
    });
    // What the tool sends: a NaN or an Infinity anywhere fails its output schema (INTERNAL_ERROR).
    const sendable = (verdict: ReturnType<typeof assess>) =>
      predictorHealth.output.safeParse({ target: 'default', checked_at: '', ...verdict }).success;

    it('leaves out a model age of NaN or ±Inf and says so', () => {
      for (const [value, shown] of [
        ['NaN', 'NaN'],
        ['+Inf', 'Infinity'],
        ['-Inf', '-Infinity'],
      ] as const) {
        const verdict = assess(probe(`model_age_seconds ${value}\n`), undefined, T, limits);
        expect(verdict.model_age_seconds).toBeUndefined();
        expect(verdict.reasons).toEqual([
          `model_age_seconds is ${shown}, not a finite number; model age unknown`,
        ]);
        expect(verdict.status).toBe('degraded');
        expect(sendable(verdict)).toBe(true);
      }
    });

    it('assesses no traffic from counters that overflow or are not numbers, and keeps none for the next check', () => {
      const overflow = [
        'http_requests_total{route="/predict",code="200"} 1e308',
        'http_requests_total{route="/x",code="200"} 1e308',
      ].join('\n');
      for (const body of [
        overflow,
        'http_requests_total{route="/predict",code="500"} NaN',
        'http_request_duration_seconds_bucket{route="/predict",le="+Inf"} +Inf\nhttp_requests_total{code="200"} 5',
      ]) {
        const verdict = assess(probe(body), undefined, T, limits);
        expect(verdict.traffic).toBeUndefined();
        expect(verdict.counters).toBeUndefined();
        expect(verdict.reasons).toHaveLength(1);
        expect(verdict.reasons[0]).toMatch(
          /^\/metrics: http_request\w+ adds up to \S+, not a finite number; traffic not assessed$/,
        );
        expect(sendable(verdict)).toBe(true);
      }
      expect(assess(probe(overflow), undefined, T, limits).reasons[0]).toBe(
        '/metrics: http_requests_total adds up to Infinity, not a finite number; traffic not assessed',
      );
    });

    it('leaves a latency bucket without a numeric bound out of the p95', () => {
      const body = [
        'http_requests_total{route="/predict",code="200"} 10',
        'http_request_duration_seconds_bucket{route="/predict",le="fast"} 10',
        'http_request_duration_seconds_bucket{route="/predict",le="0.5"} 10',
        'http_request_duration_seconds_bucket{route="/predict",le="+Inf"} 10',
      ].join('\n');
      const verdict = assess(probe(body), undefined, T, limits);
      expect(verdict.traffic).toMatchObject({ requests: 10, p95_seconds: 0.475 });
      expect(sendable(verdict)).toBe(true);
    });

    it('leaves out an uptime past what a number holds', () => {
      // JSON has no NaN, but 1e400 parses as Infinity.
      const verdict = assess(
        {
          health: { status: 200, ms: 1, body: '{"status":"ok","uptime_seconds":1e400}' },
          metrics: { status: 200, ms: 1, body: metrics(10, 0) },
        },
        undefined,
        T,
        limits,
      );
      expect(verdict.health.uptime_seconds).toBeUndefined();
      expect(verdict.reasons).toEqual([
        '/health reports an uptime of Infinity, not a finite number; left out',
      ]);
      expect(verdict.traffic).toMatchObject({ window: 'since the process started', requests: 10 });
      expect(sendable(verdict)).toBe(true);
    });
  });

  describe('figures below zero, which no count, uptime or age can be', () => {
    it('assesses no traffic from a negative counter series, and keeps none for the next check', () => {
      const body = [
        'http_requests_total{route="/predict",code="500"} -10',
        'http_requests_total{route="/predict",code="200"} 20',
      ].join('\n');
      const verdict = assess(
        { health: healthy({ status: 'ok' }), metrics: { status: 200, ms: 1, body } },
        undefined,
        T,
        limits,
      );
      expect(verdict.traffic).toBeUndefined();
      expect(verdict.counters).toBeUndefined();
      expect(verdict.reasons).toEqual([
        '/metrics: http_requests_total has a series at -10, below zero; traffic not assessed',
      ]);
      expect(verdict.status).toBe('degraded');
    });

    it('leaves out a negative uptime and model age, and sees no restart in that uptime', () => {
      const probe: Probe = {
        health: healthy({ status: 'ok', uptime_seconds: -5 }),
        metrics: { status: 200, ms: 1, body: metrics(100, 0) },
      };
      const first = assess(probe, undefined, T, limits);
      expect(first.health.uptime_seconds).toBeUndefined();
      expect(first.model_age_seconds).toBe(43);
      expect(first.reasons).toEqual(['/health reports an uptime of -5, below zero; left out']);
      expect(first.traffic?.window).toBe('since the process started');
      expect(first.status).toBe('degraded');
      const aged = assess(
        { ...probe, metrics: { status: 200, ms: 1, body: 'model_age_seconds -1' } },
        undefined,
        T,
        limits,
      );
      expect(aged.model_age_seconds).toBeUndefined();
      expect(aged.reasons).toContain('model_age_seconds is -1, below zero; model age unknown');
      // The next check takes what was counted in between, not the whole count as after a restart.
      const second = assess(
        { ...probe, metrics: { status: 200, ms: 1, body: metrics(150, 0) } },
        first.counters,
        T + 60,
        limits,
      );
      expect(second.traffic).toMatchObject({ window: 'last 60 s', requests: 50 });
    });
  });

  describe('what a service writes of itself, at any length', () => {
    it('cuts check names and details, the version and the reported status, and the reasons they go into', () => {
      const verdict = assess(
        {
          health: healthy({
            status: 's'.repeat(5000),
            version: 'v'.repeat(100_000),
            checks: { ['c'.repeat(10_000)]: { status: 'fail', detail: 'd'.repeat(100_000) } },
          }),
          metrics: { status: 200, ms: 1, body: metrics(10, 0) },
        },
        undefined,
        T,
        limits,
      );
      expect(verdict.health.version).toBe(`${'v'.repeat(80)}… [+99920 chars]`);
      expect(verdict.health.reported_status).toBe(`${'s'.repeat(80)}… [+4920 chars]`);
      expect(verdict.checks).toEqual([
        { name: `${'c'.repeat(80)}… [+9920 chars]`, ok: false, detail: `${'d'.repeat(200)}… [+99800 chars]` },
      ]);
      expect(verdict.reasons).toEqual([
        `the service reports status "${'s'.repeat(80)}… [+4920 chars]"`,
        `check ${'c'.repeat(80)}… [+9920 chars] fails: ${'d'.repeat(200)}… [+99800 chars]`,
      ]);
      expect(Buffer.byteLength(JSON.stringify(verdict))).toBeLessThan(2048);
    });

    it('makes check names and details, the version and the reported status printable, and the reasons too', () => {
      const raw = 'a\u001b[2J\u001b]0;pwned\u0007\r\u202eb';
      const shown = 'a␛[2J␛]0;pwned␇␍\ufffdb';
      const verdict = assess(
        {
          health: healthy({ status: raw, version: raw, checks: { [raw]: { status: 'fail', detail: raw } } }),
          metrics: { status: 200, ms: 1, body: metrics(10, 0) },
        },
        undefined,
        T,
        limits,
      );
      expect(verdict.health.version).toBe(shown);
      expect(verdict.health.reported_status).toBe(shown);
      expect(verdict.checks).toEqual([{ name: shown, ok: false, detail: shown }]);
      expect(verdict.reasons).toEqual([
        `the service reports status "${shown}"`,
        `check ${shown} fails: ${shown}`,
      ]);
    });

    it('gives the first ten failing checks a reason each, and counts the rest in one', () => {
      const checks = Array.from({ length: 500 }, (_, i) => ({ name: `c${i}`, status: 'fail' }));
      const verdict = assess(
        { health: healthy({ status: 'ok', checks }), metrics: { status: 200, ms: 1, body: metrics(10, 0) } },
        undefined,
        T,
        limits,
      );
      expect(verdict.status).toBe('degraded');
      expect(verdict.reasons).toHaveLength(11);
      expect(verdict.reasons[9]).toBe('check c9 fails');
      expect(verdict.reasons[10]).toBe('490 more checks fail');
    });
  });

  it('calls a service that answers with more than it reads degraded, not down, and says so', () => {
    const capped = { ms: 40, bodyOverBytes: 4 * 1024 * 1024 };
    const verdict = assess({ health: capped, metrics: capped }, undefined, T, limits);
    expect(verdict.status).toBe('degraded');
    expect(verdict.reasons).toEqual([
      '/health answered with a body over the 4.0 MiB read cap; its status and checks were not read',
      '/metrics answered with a body over the 4.0 MiB read cap; traffic and model age not read',
    ]);
    expect(verdict.health).toEqual({ ms: 40 });
  });
});

describe('fitHealth', () => {
  const detail = 'x'.repeat(150);
  const result = (checks: number, failing: number, reasons = failing) => ({
    target: 'default',
    checked_at: '2025-11-24T16:00:00.000Z',
    status: 'degraded' as const,
    reasons: Array.from({ length: reasons }, (_, i) => `check c${i} fails: ${detail}`),
    health: { http_status: 200, ms: 4 },
    checks: Array.from({ length: checks }, (_, i) => ({ name: `c${i}`, ok: i >= failing, detail })),
  });
  const size = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

  it('leaves a result that fits as it is', () => {
    const small = result(3, 1);
    expect(fitHealth(small, 8192)).toBe(small);
  });

  it('cuts the one reason short, and says so, when it alone is over the cap', () => {
    const single = { ...result(0, 1), reasons: [`check c0 fails: ${'x'.repeat(2000)}`] };
    const fitted = fitHealth(single, 1024);
    expect(size(fitted)).toBeLessThanOrEqual(1024);
    expect(fitted.reasons).toHaveLength(1);
    expect(fitted.reasons[0]).toMatch(/^check c0 fails: x+…$/);
    expect(fitted.note).toBe('Cut short to fit 1.0 KiB: reasons[0].');
  });

  it("keeps to the smallest cap however many bytes the service's own characters take", () => {
    // A lone surrogate is one character that JSON writes as six bytes (\ud800): the version, the reported status
    // and each check, cut to their lengths in characters, would still take several KB.
    const heavy = '\ud800';
    const checks = Object.fromEntries(
      Array.from({ length: 300 }, (_, i) => [
        `${i}`.padEnd(80, heavy),
        { status: 'fail', detail: heavy.repeat(200) },
      ]),
    );
    const verdict = assess(
      {
        health: healthy({ status: `degraded${heavy.repeat(200)}`, version: heavy.repeat(500), checks }),
        metrics: { status: 200, ms: 1, body: metrics(10, 0) },
      },
      undefined,
      T,
      limits,
    );
    // Kept by the tool for the next check, not sent.
    delete verdict.counters;
    const fitted = fitHealth({ target: 'default', checked_at: '2025-11-24T16:00:00.000Z', ...verdict }, 1024);
    expect(size(fitted)).toBeLessThanOrEqual(1024);
    expect(fitted.reasons).toHaveLength(1);
    expect(fitted.reasons[0]).toMatch(/^the service reports status "degraded/);
    expect(fitted.note).toBe(
      'Left out to fit 1.0 KiB: all 300 checks and the last 11 of 12 reasons. Cut short: health.version, health.reported_status.',
    );
    expect(predictorHealth.output.safeParse(fitted).success).toBe(true);
  });

  it('leaves out passing checks first, and says how many', () => {
    const fitted = fitHealth(result(200, 5), 8192);
    expect(size(fitted)).toBeLessThanOrEqual(8192);
    expect(fitted.reasons).toHaveLength(5);
    // The failing checks, c0 to c4, all stay; the passing ones that fit follow in their order.
    expect(fitted.checks.slice(0, 6).map(c => c.name)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    expect(fitted.note).toBe(
      `Left out to fit 8.0 KiB: ${200 - fitted.checks.length} of 200 checks, all passing.`,
    );
    expect(predictorHealth.output.safeParse(fitted).success).toBe(true);
  });

  it('then failing ones, in their order', () => {
    const fitted = fitHealth(result(100, 60, 3), 8192);
    expect(size(fitted)).toBeLessThanOrEqual(8192);
    expect(fitted.checks.every(c => !c.ok)).toBe(true);
    expect(fitted.checks[0]?.name).toBe('c0');
    expect(fitted.note).toBe(
      `Left out to fit 8.0 KiB: ${100 - fitted.checks.length} of 100 checks, ${60 - fitted.checks.length} of them failing.`,
    );
  });

  it('leaves out the last reasons once no check fits, keeping the first', () => {
    const fitted = fitHealth(result(20, 11), 1024);
    expect(size(fitted)).toBeLessThanOrEqual(1024);
    expect(fitted.checks).toEqual([]);
    expect(fitted.reasons[0]).toBe(`check c0 fails: ${detail}`);
    expect(fitted.note).toBe(
      `Left out to fit 1.0 KiB: all 20 checks and the last ${11 - fitted.reasons.length} of 11 reasons.`,
    );
  });
});
