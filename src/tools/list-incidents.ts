import { z } from 'zod';
import { listView } from '../incidents/view.ts';
import { parseTime } from '../lib/time.ts';
import { defineTool } from './define.ts';

export const listIncidents = defineTool({
  name: 'list_incidents',
  title: 'List incidents',
  description:
    'Incidents (alerts grouped by service), newest first: severity, status, last event. Default active.',
  input: z.strictObject({
    status: z.enum(['active', 'acknowledged', 'resolved', 'all']).optional(),
    since: z.string().max(64).optional().describe('e.g. 24h, RFC 3339'),
    limit: z.number().int().min(1).max(200).optional(),
  }),
  output: z.object({
    incidents: z.array(z.unknown()),
    total: z.number(),
    note: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },

  async run(input, ctx) {
    const since = input.since === undefined ? undefined : parseTime(input.since, ctx.now(), 'since');
    const store = await ctx.store();
    const rows = store.incidents.list({ status: input.status, since, limit: input.limit ?? 20 });
    return listView(rows, ctx.config.output.maxBytes, 'incidents');
  },
});
