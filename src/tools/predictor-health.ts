import { z } from 'zod';
import { DEFAULT_TARGET } from '../clients/predictor.ts';
import { invalidArgument, notConfigured } from '../lib/errors.ts';
import { assess } from '../lib/health.ts';
import { toRfc3339 } from '../lib/time.ts';
import { defineTool } from './define.ts';

export const predictorHealth = defineTool({
  name: 'predictor_health',
  title: 'Check service health',
  description:
    'Check a watched service (default: the market predictor) from its /health and /metrics: healthy, degraded or down, with reasons (status, response time, failing checks, 5xx ratio, p95 latency, model age). Rates cover the time since the previous check.',
  input: z.strictObject({
    target: z.string().min(1).max(100).optional().describe('configured target name'),
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
    return { target, checked_at: toRfc3339(now), ...verdict };
  },
});
