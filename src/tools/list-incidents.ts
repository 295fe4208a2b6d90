import { z } from 'zod';
import { listView } from '../incidents/view.ts';
import { parseTime } from '../lib/time.ts';
import { defineTool } from './define.ts';

const MAX_LIMIT = 200;

export const listIncidents = defineTool({
  name: 'list_incidents',
  title: 'List incidents',
  description: 'Incidents (alerts grouped by service), newest first. Default active.',
  input: z.strictObject({
    status: z.enum(['active', 'acknowledged', 'resolved', 'all']).optional(),
    since: z.string().max(64).optional().describe('updated since: 24h, RFC 3339'),
    limit: z.number().int().min(1).max(MAX_LIMIT).optional(),
    // Left undescribed, as tools/list is paid for on every turn: the note names it, with its value, when more are left.
    before: z.number().optional(),
  }),
  output: z.object({
    incidents: z.array(z.unknown()),
    shown: z.number(),
    total: z.number(),
    truncated: z.boolean(),
    note: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },

  async run(input, ctx) {
    const since = input.since === undefined ? undefined : parseTime(input.since, ctx.now(), 'since');
    const store = await ctx.store();
    const filter = { status: input.status, since, before: input.before };
    const limit = input.limit ?? 20;
    const rows = store.incidents.list({ ...filter, limit });
    const maxBytes = ctx.config.output.maxBytes;
    const view = listView(rows, maxBytes, 'incidents', {
      total: rows.length < limit ? rows.length : store.incidents.count(filter),
      redact: ctx.redact,
    });
    // Those left out are all older than the last shown (`since` bounds only how old), so the way to them is a cursor.
    const last = view.incidents.at(-1);
    if (view.truncated && last !== undefined) {
      const cut = view.shown < rows.length;
      const raise = !cut && limit < MAX_LIMIT ? `, or raise limit (up to ${MAX_LIMIT})` : '';
      view.note = `Showing ${view.shown} of ${view.total} incidents${cut ? ` to fit ${maxBytes} bytes` : ''}; ${view.total - view.shown} older left out. Next page: before ${last.id} (same status and since)${raise}; get_incident shows one.`;
    }
    return view;
  },
});
