import { z } from 'zod';
import { invalidArgument, notConfigured } from '../lib/errors.ts';
import { fitList } from '../lib/shape.ts';
import { resolveWindow, toRfc3339 } from '../lib/time.ts';
import { defineTool } from './define.ts';

const HELP_CHARS = 160;
const WINDOW_SECONDS = 3600;

export const explorePrometheus = defineTool({
  name: 'explore_prometheus',
  title: 'Explore Prometheus',
  description:
    'Discover before querying: metric names with type and help (default), label names (list "labels") or one label\'s values (list "values" + label), of series seen in the window (default last hour) matching `match`, filtered by the substring `search`.',
  input: z.strictObject({
    list: z.enum(['metrics', 'labels', 'values']).default('metrics'),
    label: z
      .string()
      .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a label name such as job')
      .optional()
      .describe('label whose values to list'),
    search: z.string().min(1).max(200).optional().describe('substring, e.g. "http_request"'),
    match: z.string().min(1).max(2000).optional().describe('series selector, e.g. up{job="api"}'),
    start: z.union([z.string(), z.number()]).optional(),
    end: z.union([z.string(), z.number()]).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  }),
  output: z.object({
    list: z.enum(['metrics', 'labels', 'values']),
    label: z.string().optional(),
    metrics: z
      .array(
        z.object({
          name: z.string(),
          type: z.string().optional(),
          unit: z.string().optional(),
          help: z.string().optional(),
        }),
      )
      .optional(),
    values: z.array(z.string()).optional(),
    total: z.number().int(),
    shown: z.number().int(),
    start: z.string(),
    end: z.string(),
    truncated: z.boolean(),
    note: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },

  async run(input, ctx) {
    const prometheus = ctx.prometheus;
    if (!prometheus) throw notConfigured('Prometheus', 'PROMETHEUS_URL');
    if (input.list === 'values' && input.label === undefined) {
      throw invalidArgument(
        'list "values" needs `label`.',
        'Give the label whose values you want, e.g. label "job"; list "labels" shows which exist.',
      );
    }
    const window = resolveWindow(input, ctx.now(), WINDOW_SECONDS);
    // A substring, not a regex: a caller's regex run here could stall the server (catastrophic backtracking).
    const needle = input.search?.toLowerCase();
    const matches = (text: string) => needle === undefined || text.toLowerCase().includes(needle);
    const scope = {
      match: input.match === undefined ? undefined : [input.match],
      start: window.start,
      end: window.end,
      signal: ctx.signal,
    };
    const echo = {
      list: input.list,
      ...(input.label === undefined ? {} : { label: input.label }),
      start: toRfc3339(window.start),
      end: toRfc3339(window.end),
    };

    if (input.list === 'metrics') {
      const [names, metadata] = await Promise.all([
        prometheus.labelValues('__name__', scope),
        prometheus.metadata({ signal: ctx.signal }),
      ]);
      const matching = names.data.filter(matches);
      const metrics = fitList(
        matching.slice(0, input.limit).map(name => {
          const meta = metadata.data[name]?.[0];
          if (!meta) return { name };
          const help = meta.help.length > HELP_CHARS ? `${meta.help.slice(0, HELP_CHARS - 1)}…` : meta.help;
          return {
            name,
            type: meta.type,
            ...(meta.unit ? { unit: meta.unit } : {}),
            ...(help ? { help } : {}),
          };
        }),
        ctx.config.output.maxBytes,
      );
      return { ...echo, metrics, ...counts(metrics.length, matching.length) };
    }
    const { data } =
      input.list === 'labels'
        ? await prometheus.labelNames(scope)
        : await prometheus.labelValues(input.label ?? '', scope);
    const matching = data.filter(matches);
    const values = fitList(matching.slice(0, input.limit), ctx.config.output.maxBytes);
    return { ...echo, values, ...counts(values.length, matching.length) };
  },
});

function counts(shown: number, total: number) {
  const truncated = shown < total;
  return {
    total,
    shown,
    truncated,
    ...(truncated
      ? {
          note: `${total - shown} more not shown; narrow with \`search\` or \`match\`, or raise \`limit\` (max 1000).`,
        }
      : total === 0
        ? { note: 'Nothing matched in this window; try a broader search or an older window.' }
        : {}),
  };
}
