import { z } from 'zod';
import { incidentView } from '../incidents/view.ts';
import { ToolError } from '../lib/errors.ts';
import { defineTool } from './define.ts';

export const getIncident = defineTool({
  name: 'get_incident',
  title: 'Get an incident',
  description:
    'One incident, as resource incident://{id}: alerts with labels and links, recent timeline (timeline_left_out: older), findings, actions.',
  input: z.strictObject({
    id: z.number().int().min(1).describe('incident id'),
  }),
  output: z
    .object({
      id: z.number(),
      status: z.string(),
      timeline: z.array(z.unknown()),
    })
    .loose(),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },

  async run(input, ctx) {
    const store = await ctx.store();
    const view = incidentView(
      store.incidents,
      input.id,
      ctx.config.output.maxBytes,
      ctx.config.incidents.quietSeconds,
      store.agent,
      // Scrubbed before the view cuts its texts: a secret across a cut would no longer match.
      ctx.redact,
    );
    if (!view) {
      throw new ToolError('NOT_FOUND', `There is no incident ${input.id}.`, 'list_incidents shows the ids.');
    }
    return { ...view };
  },
});
