import { z } from 'zod';
import { listView } from '../incidents/view.ts';
import { parseTime } from '../lib/time.ts';
import { defineTool } from './define.ts';

const MAX_LIMIT = 200;

export const listIncidents = defineTool({
  name: 'list_incidents',
  title: 'List incidents',
  description: 'Incidents (alerts grouped by service) updated since `since`, newest first. Default active.',
  input: z.strictObject({
    status: z.enum(['active', 'acknowledged', 'resolved', 'all']).optional(),
    since: z.string().max(64).optional().describe('updated since: 24h, RFC 3339'),
    limit: z.number().int().min(1).max(MAX_LIMIT).optional(),
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
    const filter = { status: input.status, since };
    const limit = input.limit ?? 20;
    const rows = store.incidents.list({ ...filter, limit });
    return listView(rows, ctx.config.output.maxBytes, 'incidents', {
      total: rows.length < limit ? rows.length : store.incidents.count(filter),
      more:
        limit < MAX_LIMIT
          ? `Raise limit (up to ${MAX_LIMIT}), or narrow with status or since; get_incident shows one.`
          : 'Narrow with status or since; get_incident shows one.',
      redact: ctx.redact,
    });
  },
});
