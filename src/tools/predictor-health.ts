import { z } from 'zod';
import { DEFAULT_TARGET } from '../clients/predictor.ts';
import { invalidArgument, notConfigured } from '../lib/errors.ts';
import { assess, type Assessment, type Check } from '../lib/health.ts';
import { formatBytes } from '../lib/http.ts';
import { cutIndex } from '../lib/logs.ts';
import { toRfc3339 } from '../lib/time.ts';
import { defineTool } from './define.ts';

// Room kept for the note that says what was left out.
const NOTE_RESERVE = 160;

export const predictorHealth = defineTool({
  name: 'predictor_health',
  title: 'Service health',
  description:
    'Check a watched service (default: the market predictor) from its /health and /metrics: healthy, degraded or down, with reasons (status, response time, failing checks, 5xx ratio, p95 latency, model age). Rates are since the last check.',
  input: z.strictObject({
    target: z.string().min(1).max(100).optional().describe('configured target'),
  }),
  output: z.object({
    target: z.string(),
    checked_at: z.string(),
    status: z.enum(['healthy', 'degraded', 'down']),
    reasons: z.array(z.string()),
    health: z.object({
      http_status: z.number().int().optional(),
      ms: z.number(),
      reported_status: z.string().optional(),
      version: z.string().optional(),
      uptime_seconds: z.number().optional(),
    }),
    checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string().optional() })),
    traffic: z
      .object({
        window: z.string(),
        requests: z.number(),
        error_ratio: z.number(),
        p95_seconds: z.number().optional(),
      })
      .optional(),
    model_age_seconds: z.number().optional(),
    note: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },

  async run(input, ctx) {
    const predictor = ctx.predictor;
    const settings = ctx.config.predictor;
    if (!predictor || !settings) throw notConfigured('The predictor', 'PREDICTOR_URL');
    const target = input.target ?? DEFAULT_TARGET;
    if (!predictor.has(target)) {
      throw invalidArgument(
        `Unknown target "${target}".`,
        `Configured targets: ${predictor.targets().join(', ')} (predictor.targets in the config file).`,
      );
    }
    const now = ctx.now();
    const probe = await predictor.probe(target, ctx.signal);
    const { counters, ...verdict } = assess(probe, predictor.recall(target), now, settings);
    if (counters) predictor.remember(target, counters);
    return fitHealth({ target, checked_at: toRfc3339(now), ...verdict }, ctx.config.output.maxBytes);
  },
});

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

/**
 * The result cut to `maxBytes`: checks go first, passing ones before failing ones (whose reasons say why the
 * status is what it is), then the last reasons, one always kept. Should what is kept still be over (a service can
 * spell its version, status and check details in characters of several bytes each, up to six in JSON), the
 * version, then the reported status, then the reason kept are cut short. The note says what was left out or cut.
 */
export function fitHealth<T extends Pick<Assessment, 'checks' | 'reasons' | 'health'>>(
  result: T,
  maxBytes: number,
): T & { note?: string } {
  if (bytes(result) <= maxBytes) return result;
  const room = maxBytes - NOTE_RESERVE;
  let used = bytes({ ...result, checks: [] });
  let reasons = result.reasons;
  while (used > room && reasons.length > 1) {
    used -= bytes(reasons.at(-1)) + 1;
    reasons = reasons.slice(0, -1);
  }
  let health = result.health;
  const cut: string[] = [];
  for (const field of ['version', 'reported_status'] as const) {
    const value = health[field];
    if (used <= room || value === undefined) continue;
    const shorter = cutToBytes(value, bytes(value) - (used - room));
    used -= bytes(value) - bytes(shorter);
    health = { ...health, [field]: shorter };
    cut.push(`health.${field}`);
  }
  const [reason] = reasons;
  if (used > room && reason !== undefined && reasons.length === 1) {
    const shorter = cutToBytes(reason, bytes(reason) - (used - room));
    used -= bytes(reason) - bytes(shorter);
    reasons = [shorter];
    cut.push('reasons[0]');
  }
  const kept = new Set<Check>();
  // No check is kept once a reason had to go.
  const candidates =
    reasons.length < result.reasons.length
      ? []
      : [...result.checks.filter(c => !c.ok), ...result.checks.filter(c => c.ok)];
  for (const check of candidates) {
    const size = bytes(check) + 1;
    if (used + size > room) break;
    kept.add(check);
    used += size;
  }
  const checks = result.checks.filter(check => kept.has(check));
  const left = [
    ...(checks.length < result.checks.length ? [checksLeftOut(result.checks, checks)] : []),
    ...(reasons.length < result.reasons.length
      ? [`the last ${result.reasons.length - reasons.length} of ${result.reasons.length} reasons`]
      : []),
  ];
  // No check over the cap, and what is kept fits: nothing is left to leave out.
  if (left.length === 0 && cut.length === 0) return result;
  const cap = formatBytes(maxBytes);
  const note = [
    ...(left.length === 0 ? [] : [`Left out to fit ${cap}: ${left.join(' and ')}.`]),
    ...(cut.length === 0
      ? []
      : [`Cut short${left.length === 0 ? ` to fit ${cap}` : ''}: ${cut.join(', ')}.`]),
  ].join(' ');
  return { ...result, reasons, health, checks, note };
}

/** `text` cut, with an ellipsis, to take at most `maxBytes` as a JSON string (or just the ellipsis if less). */
function cutToBytes(text: string, maxBytes: number): string {
  if (bytes(text) <= maxBytes) return text;
  const cutTo = (chars: number) => `${text.slice(0, cutIndex(text, chars))}…`;
  // The longest start that fits: a longer start never takes fewer bytes.
  let low = 0;
  let high = text.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (bytes(cutTo(mid)) <= maxBytes) low = mid;
    else high = mid - 1;
  }
  return cutTo(low);
}

function checksLeftOut(all: readonly Check[], kept: readonly Check[]): string {
  if (kept.length === 0) return `all ${all.length} checks`;
  const failing = all.filter(c => !c.ok).length - kept.filter(c => !c.ok).length;
  return `${all.length - kept.length} of ${all.length} checks, ${failing === 0 ? 'all passing' : `${failing} of them failing`}`;
}
