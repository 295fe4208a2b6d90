import { z } from 'zod';
import { invalidArgument, notConfigured } from '../lib/errors.ts';
import { formatBytes } from '../lib/http.ts';
import type { LogQLQuery } from '../lib/logql.ts';
import { fitList } from '../lib/shape.ts';
import { printable } from '../lib/terminal.ts';
import { resolveWindow, toRfc3339 } from '../lib/time.ts';
import { defineTool } from './define.ts';

// Loki's own default for label look-ups.
const WINDOW_SECONDS = 6 * 3600;

export const exploreLoki = defineTool({
  name: 'explore_loki',
  title: 'Explore Loki labels',
  description:
    'Discover stream labels: names (default) or one label\'s values (list "values" + label), seen in the window (default last 6 h) on streams matching `match`.',
  input: z.strictObject({
    list: z.enum(['labels', 'values']).default('labels'),
    label: z
      .string()
      .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a label name such as app')
      .optional(),
    match: z.string().min(1).max(2000).optional().describe('stream selector, e.g. {app="api"}'),
    start: z.union([z.string(), z.number()]).optional(),
    end: z.union([z.string(), z.number()]).optional(),
  }),
  output: z.object({
    list: z.enum(['labels', 'values']),
    label: z.string().optional(),
    values: z.array(z.string()),
    total: z.number().int(),
    start: z.string(),
    end: z.string(),
    truncated: z.boolean(),
    note: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },

  async run(input, ctx) {
    const loki = ctx.loki;
    if (!loki) throw notConfigured('Loki', 'LOKI_URL');
    if (input.list === 'values' && input.label === undefined) {
      throw invalidArgument(
        'list "values" needs `label`.',
        'Give the label whose values you want, e.g. label "app".',
      );
    }
    // Echoed but unused, `label` would make the list of label names read as one filtered by it.
    if (input.list === 'labels' && input.label !== undefined) {
      throw invalidArgument(
        'label only applies to list "values", not list "labels".',
        `For the values of ${input.label}, add list "values"; otherwise drop label.`,
      );
    }
    if (input.match !== undefined) checkMatch((await import('../lib/logql.ts')).checkLogQL(input.match));
    const { start, end } = resolveWindow(input, ctx.now(), WINDOW_SECONDS);
    const scope = { start, end, query: input.match, signal: ctx.signal };
    const found =
      input.list === 'labels' ? await loki.labels(scope) : await loki.labelValues(input.label ?? '', scope);
    // Scrubbed, then made printable as search_loki's labels are (a secret holding a control character still reads
    // as the secret), before the list is fitted to the cap, so that it is measured as it goes out.
    const all = found.map(value => printable(ctx.redact(value)));
    const maxBytes = ctx.config.output.maxBytes;
    const values = fitList(all, maxBytes);
    const truncated = values.length < all.length;
    return {
      list: input.list,
      ...(input.label === undefined ? {} : { label: input.label }),
      values,
      total: all.length,
      start: toRfc3339(start),
      end: toRfc3339(end),
      truncated,
      ...(truncated
        ? {
            note: `${all.length - values.length} more not shown to fit ${formatBytes(maxBytes)}; narrow with \`match\` or a shorter window (start, end).`,
          }
        : all.length === 0
          ? { note: emptyNote(input.list, input.label, input.match) }
          : {}),
    };
  },
});

/**
 * Loki's label endpoints take a bare stream selector and refuse anything more as a parse error; said here, the
 * model learns to drop the filters instead of being sent to look up the labels it is looking up.
 */
function checkMatch(query: LogQLQuery): void {
  if (query.kind === 'logs' && !query.hasStages) return;
  // The query's own selector, as the one to try, unless it is too long to echo.
  const own = query.selectors[0]?.selector;
  const selector = own !== undefined && own.length <= 200 ? own : '{app="api"}';
  throw invalidArgument(
    '`match` takes a stream selector alone, not line filters, parsers or a metric query.',
    `Give only the selector, e.g. match ${selector}; search_loki runs the whole query.`,
  );
}

/** Why an empty list may be empty: a label no stream has, a selector that matches none, or the window. */
function emptyNote(list: 'labels' | 'values', label: string | undefined, match: string | undefined): string {
  const streams =
    match === undefined ? 'No stream in this window' : 'No stream matching `match` in this window';
  const otherwise = match === undefined ? 'try an older window' : 'check the selector in `match`';
  if (list === 'values')
    return `${streams} has the label ${label ?? ''}; list "labels" shows the labels there are, or ${otherwise}.`;
  return `${streams}; ${otherwise}.`;
}
