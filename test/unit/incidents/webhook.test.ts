import { describe, expect, it } from 'vitest';
import { fingerprintOf, groupOf, highestSeverity } from '../../../src/incidents/alerts.ts';
import { parseWebhook } from '../../../src/incidents/webhook.ts';
import { PAYLOAD } from '../../support/alertmanager.ts';

const NOW = Date.parse('2026-12-01T10:10:00Z') / 1000;

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
    const result = parseWebhook(JSON.stringify(PAYLOAD), NOW);
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
    expect(parseWebhook('{"version": "4", ', NOW)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^the body is not JSON/),
    });
    expect(parseWebhook('[]', NOW)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/must be a JSON object/),
    });
    expect(parseWebhook(JSON.stringify({ ...PAYLOAD, version: '3' }), NOW)).toEqual({
      ok: false,
      problem:
        'version "3" is not supported: this receiver takes Alertmanager\'s webhook payload version "4"',
    });
    expect(parseWebhook(JSON.stringify({ ...PAYLOAD, version: undefined }), NOW)).toMatchObject({
      problem: expect.stringMatching(/^version is missing/),
    });
    const badTime = { ...PAYLOAD, alerts: [{ ...PAYLOAD.alerts[0], startsAt: 'yesterday' }] };
    expect(parseWebhook(JSON.stringify(badTime), NOW)).toEqual({
      ok: false,
      problem: 'alerts.0.startsAt: must be an RFC 3339 time',
    });
    const noLabels = { ...PAYLOAD, alerts: [{ ...PAYLOAD.alerts[0], labels: {} }] };
    expect(parseWebhook(JSON.stringify(noLabels), NOW)).toEqual({
      ok: false,
      problem: 'alerts.0.labels: must not be empty',
    });
    const noAlerts = Object.fromEntries(Object.entries(PAYLOAD).filter(([key]) => key !== 'alerts'));
    expect(parseWebhook(JSON.stringify(noAlerts), NOW)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^alerts: /),
    });
  });

  /** The one alert of PAYLOAD with `change` applied, as the webhook reads it (or the problem it names). */
  const withAlert = (change: Record<string, unknown>) =>
    parseWebhook(JSON.stringify({ ...PAYLOAD, alerts: [{ ...PAYLOAD.alerts[0], ...change }] }), NOW);

  it('refuses a date that does not exist instead of rolling it over', () => {
    expect(withAlert({ startsAt: '2026-02-30T10:00:00Z' })).toEqual({
      ok: false,
      problem: 'alerts.0.startsAt: must be an RFC 3339 time',
    });
    expect(withAlert({ status: 'resolved', endsAt: '2026-12-01T24:00:00Z' })).toEqual({
      ok: false,
      problem: 'alerts.0.endsAt: must be an RFC 3339 time',
    });
    expect(withAlert({ startsAt: '2028-02-29T10:00:00Z' })).toMatchObject({ ok: true });
  });

  it("takes Go's zero time as no time: a startsAt becomes the receipt time, a firing alert's endsAt no end", () => {
    const result = withAlert({ startsAt: '0001-01-01T00:00:00Z', endsAt: '0001-01-01T00:00:00Z' });
    expect(result.ok && result.alerts[0]).toMatchObject({ startsAt: NOW, endsAt: undefined });
  });

  it('drops labels with an empty value, as Prometheus does, so the fingerprint is that of the polled alert', () => {
    const labels = PAYLOAD.alerts[0]?.labels ?? {};
    const result = withAlert({ labels: { ...labels, team: '' } });
    expect(result.ok && result.alerts[0]).toMatchObject({ labels, fingerprint: fingerprintOf(labels) });
    expect(withAlert({ labels: { alertname: '' } })).toEqual({
      ok: false,
      problem: 'alerts.0.labels: must not be empty',
    });
  });

  it("drops Prometheus's external labels (incidents.externalLabels), so the fingerprint is that of the polled alert", () => {
    const labels = PAYLOAD.alerts[0]?.labels ?? {};
    const sent = JSON.stringify({
      ...PAYLOAD,
      alerts: [{ ...PAYLOAD.alerts[0], labels: { ...labels, cluster: 'eu-1', replica: 'a' } }],
    });
    const result = parseWebhook(sent, NOW, ['cluster', 'replica']);
    expect(result.ok && result.alerts[0]).toMatchObject({ labels, fingerprint: fingerprintOf(labels) });
    // A named label an alert does not carry changes nothing; a label not named stays.
    const without = parseWebhook(JSON.stringify(PAYLOAD), NOW, ['cluster']);
    expect(without.ok && without.alerts[0]?.fingerprint).toBe(fingerprintOf(labels));
    expect(parseWebhook(sent, NOW)).toMatchObject({
      ok: true,
      alerts: [{ labels: { ...labels, cluster: 'eu-1', replica: 'a' } }],
    });
  });

  it('refuses a label name no object can hold or no sender means, naming it, rather than dropping it', () => {
    const raw = JSON.stringify({ ...PAYLOAD, alerts: [PAYLOAD.alerts[0]] }).replace(
      '"labels":{',
      '"labels":{"__proto__":"x",',
    );
    expect(parseWebhook(raw, NOW)).toEqual({
      ok: false,
      problem: 'alerts.0.labels: label name "__proto__" cannot be stored here; rename or drop it',
    });
    expect(withAlert({ labels: { alertname: 'A', '': 'x' } })).toEqual({
      ok: false,
      problem: 'alerts.0.labels: an empty label name',
    });
    expect(withAlert({ annotations: { ['\ud800']: 'x' } })).toEqual({
      ok: false,
      problem: 'alerts.0.annotations: label name "\\ud800" is not well-formed UTF-8',
    });
    // Alertmanager 0.27+ passes UTF-8 names on (Prometheus 3 writes them).
    expect(withAlert({ labels: { alertname: 'A', 'service.name': 'api', '🚀': 'x' } })).toMatchObject({
      ok: true,
    });
  });
});
