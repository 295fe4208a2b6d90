// The Alertmanager webhook receiver's payload (version 4), checked field by field: a bad one is refused whole,
// with the problem named, and nothing is stored.

import { z } from 'zod';
import { parseDateMs, realDate } from '../lib/time.ts';
import { ALERTMANAGER_SOURCE, fingerprintOf, withoutLabels, type AlertInput } from './alerts.ts';

const labels = z.record(z.string(), z.string());

/**
 * Why a label (or annotation) name cannot be taken, or undefined. Alertmanager 0.27+ passes on any UTF-8 name
 * (Prometheus 3 writes `service.name` and the like), so only what no sender means is refused: an empty name, one
 * that is not well-formed Unicode, and `__proto__`, which a JavaScript object would silently drop.
 */
function badName(name: string): string | undefined {
  if (name === '') return 'an empty label name';
  // Under the u flag a surrogate pair is one code point; only a lone half is in Cs.
  if (/\p{Cs}/u.test(name)) return `label name ${JSON.stringify(name)} is not well-formed UTF-8`;
  if (name === '__proto__') return 'label name "__proto__" cannot be stored here; rename or drop it';
  return undefined;
}

/** A label set whose names are checked on the raw JSON: the record schema skips a `__proto__` key unseen. */
const labelSet = z.preprocess((value, ctx) => {
  if (typeof value !== 'object' || value === null) return value;
  for (const name of Object.keys(value)) {
    const problem = badName(name);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: value });
  }
  return value;
}, labels);

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
        // Prometheus treats a label with an empty value as absent, and its fingerprint leaves it out.
        labels: labelSet
          .transform(l => Object.fromEntries(Object.entries(l).filter(([, value]) => value !== '')))
          .refine(l => Object.keys(l).length > 0, 'must not be empty'),
        annotations: labelSet.default({}),
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

/**
 * RFC 3339 with any number of fractional digits (Go writes nanoseconds), as unix seconds; NaN if unreadable or if
 * the date does not exist (Date.parse would roll February 30 over to March 2).
 */
function parseTimestamp(value: string): number {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i.exec(value);
  if (!match || !realDate(value)) return Number.NaN;
  const [, whole = '', fraction = '', zone = ''] = match;
  const ms = parseDateMs(`${whole}${zone}`);
  return Number.isNaN(ms) ? Number.NaN : ms / 1000 + (fraction === '' ? 0 : Number(`0.${fraction}`));
}

// Go's zero time (0001-01-01T00:00:00Z): Go's encoding of "no time". Alertmanager's endsAt for an alert with no end
// yet; as startsAt it means the start is unknown.
const ZERO_TIME = -62_135_596_800;

/**
 * `now` (unix seconds, the receipt time) stands in for a startsAt Alertmanager sent as Go's zero time;
 * `externalLabels` (incidents.externalLabels) are dropped from every alert.
 */
export function parseWebhook(
  text: string,
  now: number,
  externalLabels: readonly string[] = [],
): WebhookResult {
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
    const startsAt = parseTimestamp(alert.startsAt);
    const endsAt = alert.endsAt === undefined ? undefined : parseTimestamp(alert.endsAt);
    // Without Prometheus's external labels, which the polled alert lacks, the labels are the polled alert's.
    const labels = withoutLabels(alert.labels, externalLabels);
    return {
      // The same fingerprint Alertmanager computes from the labels, so the polled alert is the same alert.
      fingerprint: fingerprintOf(labels),
      labels,
      annotations: alert.annotations,
      state: alert.status,
      startsAt: startsAt <= ZERO_TIME ? now : startsAt,
      endsAt: endsAt === undefined || endsAt <= ZERO_TIME ? undefined : endsAt,
      generatorURL: alert.generatorURL === '' ? undefined : alert.generatorURL,
      source: ALERTMANAGER_SOURCE,
    };
  });
  return { ok: true, alerts, groupKey: parsed.data.groupKey, truncatedAlerts: parsed.data.truncatedAlerts };
}
