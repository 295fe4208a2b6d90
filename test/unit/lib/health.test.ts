import { describe, expect, it } from 'vitest';
import type { Probe } from '../../../src/clients/predictor.ts';
import { histogramQuantile, parseExposition } from '../../../src/lib/exposition.ts';
import { assess } from '../../../src/lib/health.ts';
import { predictorHealth } from '../../../src/tools/predictor-health.ts';

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
});
