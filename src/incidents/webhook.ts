// The Alertmanager webhook receiver's payload (version 4), checked field by field: a bad one is refused whole,
// with the problem named, and nothing is stored.

import { z } from 'zod';
import { fingerprintOf, type AlertInput } from './alerts.ts';

const labels = z.record(z.string(), z.string());
const timestamp = z
  .string()
  .refine(value => !Number.isNaN(parseTimestamp(value)), 'must be an RFC 3339 time');

const payloadSchema = z.object({
  version: z.literal('4'),
  groupKey: z.string(),
  truncatedAlerts: z.number().int().min(0).default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().optional(),
  groupLabels: labels.optional(),
  commonLabels: labels.optional(),
  commonAnnotations: labels.optional(),
  externalURL: z.string().optional(),
  alerts: z
    .array(
      z.object({
        status: z.enum(['firing', 'resolved']),
        labels: labels.refine(l => Object.keys(l).length > 0, 'must not be empty'),
        annotations: labels.default({}),
        startsAt: timestamp,
        endsAt: timestamp.optional(),
        generatorURL: z.string().optional(),
        fingerprint: z.string().optional(),
      }),
    )
    .max(10_000),
});

export type WebhookResult =
  | { ok: true; alerts: AlertInput[]; groupKey: string; truncatedAlerts: number }
  | { ok: false; problem: string };

/** RFC 3339 with any number of fractional digits (Go writes nanoseconds), as unix seconds; NaN if unreadable. */
function parseTimestamp(value: string): number {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i.exec(value);
  if (!match) return Number.NaN;
  const [, whole = '', fraction = '', zone = ''] = match;
  const ms = Date.parse(`${whole}${zone}`);
  return Number.isNaN(ms) ? Number.NaN : ms / 1000 + (fraction === '' ? 0 : Number(`0.${fraction}`));
}

// Go's zero time: Alertmanager's endsAt for an alert with no end yet.
const ZERO_TIME = -62_135_596_800;

export function parseWebhook(text: string): WebhookResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `the body is not JSON: ${(error as Error).message}` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, problem: 'the body must be a JSON object (an Alertmanager webhook payload)' };
  }
  const version = (json as { version?: unknown }).version;
  if (version !== '4') {
    return {
      ok: false,
      problem: `version ${version === undefined ? 'is missing' : `${JSON.stringify(version)} is not supported`}: this receiver takes Alertmanager's webhook payload version "4"`,
    };
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map(issue => `${issue.path.join('.') || 'body'}: ${issue.message}`);
    return { ok: false, problem: issues.join('; ') };
  }
  const alerts = parsed.data.alerts.map((alert): AlertInput => {
    const endsAt = alert.endsAt === undefined ? undefined : parseTimestamp(alert.endsAt);
    return {
      // The same fingerprint Alertmanager computes from the labels, so the polled alert is the same alert.
      fingerprint: fingerprintOf(alert.labels),
      labels: alert.labels,
      annotations: alert.annotations,
      state: alert.status,
      startsAt: parseTimestamp(alert.startsAt),
      endsAt: endsAt === undefined || endsAt <= ZERO_TIME ? undefined : endsAt,
      generatorURL: alert.generatorURL === '' ? undefined : alert.generatorURL,
      source: 'alertmanager',
    };
  });
  return { ok: true, alerts, groupKey: parsed.data.groupKey, truncatedAlerts: parsed.data.truncatedAlerts };
}
