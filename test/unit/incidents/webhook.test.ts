import { describe, expect, it } from 'vitest';
import { fingerprintOf, groupOf, highestSeverity } from '../../../src/incidents/alerts.ts';
import { parseWebhook } from '../../../src/incidents/webhook.ts';
import { PAYLOAD } from '../../support/alertmanager.ts';

describe('fingerprints and groups', () => {
  it('computes the fingerprint Prometheus and Alertmanager compute (prometheus/common signature test value)', () => {
    const fingerprint = fingerprintOf({ name: 'garland, briggs', fear: 'love is not enough' });
    expect(BigInt(`0x${fingerprint}`)).toBe(5799056148416392346n);
    expect(fingerprintOf({})).toBe('cbf29ce484222325');
    expect(fingerprintOf({ b: '2', a: '1' })).toBe(fingerprintOf({ a: '1', b: '2' }));
  });

  it('groups by the first configured label an alert carries', () => {
    expect(groupOf({ service: 'x', job: 'y' }, ['service', 'job']).key).toBe('service=x');
    expect(groupOf({ job: 'y' }, ['service', 'job']).key).toBe('job=y');
    expect(groupOf({ alertname: 'A' }, ['service', 'job']).key).toBe('alertname=A');
  });

  it('ranks severities critical > error > warning > info', () => {
    expect(highestSeverity(['info', 'critical', 'warning'])).toBe('critical');
    expect(highestSeverity(['warning', 'error'])).toBe('error');
    expect(highestSeverity([undefined, 'info'])).toBe('info');
    expect(highestSeverity([])).toBe('none');
  });
});

describe('the Alertmanager webhook payload', () => {
  it('reads a version 4 payload', () => {
    const result = parseWebhook(JSON.stringify(PAYLOAD));
    expect(result).toMatchObject({ ok: true, groupKey: PAYLOAD.groupKey, truncatedAlerts: 0 });
    if (!result.ok) return;
    const [alert] = result.alerts;
    expect(alert).toMatchObject({
      state: 'firing',
      labels: PAYLOAD.alerts[0]?.labels,
      generatorURL: 'http://prometheus:9090/graph?g0.expr=x',
      source: 'alertmanager',
      endsAt: undefined,
    });
    expect(alert?.startsAt).toBeCloseTo(Date.parse('2026-12-01T10:00:00Z') / 1000 + 0.123456789, 6);
    expect(alert?.fingerprint).toBe(fingerprintOf(PAYLOAD.alerts[0]?.labels ?? {}));
  });

  it('names the problem of a malformed payload', () => {
    expect(parseWebhook('{"version": "4", ')).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^the body is not JSON/),
    });
    expect(parseWebhook('[]')).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/must be a JSON object/),
    });
    expect(parseWebhook(JSON.stringify({ ...PAYLOAD, version: '3' }))).toEqual({
      ok: false,
      problem:
        'version "3" is not supported: this receiver takes Alertmanager\'s webhook payload version "4"',
    });
    expect(parseWebhook(JSON.stringify({ ...PAYLOAD, version: undefined }))).toMatchObject({
      problem: expect.stringMatching(/^version is missing/),
    });
    const badTime = { ...PAYLOAD, alerts: [{ ...PAYLOAD.alerts[0], startsAt: 'yesterday' }] };
    expect(parseWebhook(JSON.stringify(badTime))).toEqual({
      ok: false,
      problem: 'alerts.0.startsAt: must be an RFC 3339 time',
    });
    const noLabels = { ...PAYLOAD, alerts: [{ ...PAYLOAD.alerts[0], labels: {} }] };
    expect(parseWebhook(JSON.stringify(noLabels))).toEqual({
      ok: false,
      problem: 'alerts.0.labels: must not be empty',
    });
    const noAlerts = Object.fromEntries(Object.entries(PAYLOAD).filter(([key]) => key !== 'alerts'));
    expect(parseWebhook(JSON.stringify(noAlerts))).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^alerts: /),
    });
  });
});
