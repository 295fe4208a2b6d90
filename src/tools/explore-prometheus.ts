import { z } from 'zod';
import type { Metadata } from '../clients/prometheus.ts';
import { invalidArgument, notConfigured } from '../lib/errors.ts';
import { formatBytes } from '../lib/http.ts';
import { fitList } from '../lib/shape.ts';
import { resolveWindow, toRfc3339 } from '../lib/time.ts';
import { defineTool } from './define.ts';

const HELP_CHARS = 160;
const MAX_LIMIT = 1000;
const WINDOW_SECONDS = 3600;
// The series a histogram, summary or counter family writes besides its name, and the family types that write
// each: Prometheus keeps the type and help under the family's name (`http_request_duration_seconds`), not the
// series' (`http_request_duration_seconds_bucket`).
const FAMILY_SUFFIXES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['_bucket', ['histogram', 'gaugehistogram']],
  ['_count', ['histogram', 'summary']],
  ['_sum', ['histogram', 'summary']],
  ['_gcount', ['gaugehistogram']],
  ['_gsum', ['gaugehistogram']],
  ['_created', ['counter', 'histogram', 'summary']],
  ['_total', ['counter']],
];

export const explorePrometheus = defineTool({
  name: 'explore_prometheus',
  title: 'Explore Prometheus',
  description:
    'Discover before querying: metric names with type and help (default), label names (list "labels") or one label\'s values (list "values" + label) of series in the window (default last hour) matching `match`, filtered by substring `search`.',
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
    limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(200),
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
    // Echoed but unused, `label` would make a list of every metric or label read as one filtered by it.
    if (input.list !== 'values' && input.label !== undefined) {
      throw invalidArgument(
        `label only applies to list "values", not list "${input.list}".`,
        `For the values of ${input.label}, add list "values"; otherwise drop label.`,
      );
    }
    const window = resolveWindow(input, ctx.now(), WINDOW_SECONDS);
    const maxBytes = ctx.config.output.maxBytes;
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
          const meta = metadataOf(metadata.data, name);
          if (!meta) return { name };
          const help = meta.help.length > HELP_CHARS ? `${meta.help.slice(0, HELP_CHARS - 1)}…` : meta.help;
          return {
            name,
            type: meta.type,
            ...(meta.unit ? { unit: meta.unit } : {}),
            ...(help ? { help } : {}),
          };
        }),
        maxBytes,
      );
      return {
        ...echo,
        metrics,
        ...counts(metrics.length, matching.length, input.limit, maxBytes, input.match),
      };
    }
    const { data } =
      input.list === 'labels'
        ? await prometheus.labelNames(scope)
        : await prometheus.labelValues(input.label ?? '', scope);
    const matching = data.filter(matches);
    const values = fitList(matching.slice(0, input.limit), maxBytes);
    return {
      ...echo,
      values,
      ...counts(values.length, matching.length, input.limit, maxBytes, input.match),
    };
  },
});

/** A metric's metadata, or its family's when the metric is one of the series the family writes. */
function metadataOf(metadata: Metadata, name: string): Metadata[string][number] | undefined {
  const own = metadata[name]?.[0];
  if (own) return own;
  for (const [suffix, types] of FAMILY_SUFFIXES) {
    if (!name.endsWith(suffix)) continue;
    const family = metadata[name.slice(0, -suffix.length)]?.[0];
    if (family && types.includes(family.type)) return family;
  }
  return undefined;
}

function counts(shown: number, total: number, limit: number, maxBytes: number, match: string | undefined) {
  const truncated = shown < total;
  // Cut at `limit`, a larger one shows more; cut to fit the byte cap, only a narrower list does.
  const raise = shown === limit && limit < MAX_LIMIT ? `, or raise \`limit\` (max ${MAX_LIMIT})` : '';
  const cut = shown < limit ? ` to fit ${formatBytes(maxBytes)}` : '';
  return {
    total,
    shown,
    truncated,
    ...(truncated
      ? { note: `${total - shown} more not shown${cut}; narrow with \`search\` or \`match\`${raise}.` }
      : total === 0
        ? {
            note:
              match === undefined
                ? 'Nothing matched in this window; try a broader search or an older window.'
                : 'Nothing matched in this window; check the selector in `match` (drop it to see what exists), or try a broader search or an older window.',
          }
        : {}),
  };
}
