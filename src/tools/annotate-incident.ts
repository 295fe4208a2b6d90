import { z } from 'zod';
import { ToolError, invalidArgument } from '../lib/errors.ts';
import type { Change } from '../store/incidents.ts';
import { defineTool } from './define.ts';

export const annotateIncident = defineTool({
  name: 'annotate_incident',
  title: 'Annotate an incident',
  description:
    "Write to an incident's timeline (local store only): a note, a finding with its evidence (each tool call that showed it: tool, arguments, result), and/or a new status.",
  input: z.strictObject({
    id: z.number().int().min(1).describe('incident id'),
    note: z.string().min(1).max(4000).optional(),
    finding: z.string().min(1).max(4000).optional().describe('a conclusion; needs evidence'),
    evidence: z.array(z.string().min(1).max(1000)).max(20).optional(),
    status: z.enum(['acknowledged', 'resolved']).optional(),
  }),
  output: z.object({ id: z.number(), status: z.string(), recorded: z.array(z.string()) }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },

  async run(input, ctx) {
    if (input.note === undefined && input.finding === undefined && input.status === undefined) {
      throw invalidArgument('Nothing to record.', 'Give a note, a finding with evidence, or a status.');
    }
    if (input.finding !== undefined && (input.evidence ?? []).length === 0) {
      throw invalidArgument(
        'A finding needs evidence.',
        'Cite the tool calls that support it in `evidence`, or record it as a note.',
      );
    }
    if (input.finding === undefined && input.evidence !== undefined) {
      throw invalidArgument(
        'Evidence goes with a finding, and there is none.',
        'Add the `finding` it supports, or put what it shows in a note.',
      );
    }
    const store = await ctx.store();
    const incidents = store.incidents;
    if (!incidents.get(input.id)) {
      throw new ToolError('NOT_FOUND', `There is no incident ${input.id}.`, 'list_incidents shows the ids.');
    }
    const now = ctx.now();
    const recorded: string[] = [];
    const changes: Change[] = [];
    if (input.note !== undefined) {
      changes.push(...incidents.addEvent(input.id, { kind: 'note', summary: input.note }, now));
      recorded.push('note');
    }
    if (input.finding !== undefined) {
      changes.push(
        ...incidents.addEvent(
          input.id,
          { kind: 'finding', summary: input.finding, data: { evidence: input.evidence } },
          now,
        ),
      );
      recorded.push('finding');
    }
    if (input.status !== undefined) {
      const changed = incidents.setStatus(input.id, input.status, now, 'annotate_incident');
      changes.push(...changed);
      recorded.push(changed.length > 0 ? `status ${input.status}` : `status unchanged`);
    }
    ctx.changes.publish(changes);
    return { id: input.id, status: incidents.get(input.id)?.status ?? 'unknown', recorded };
  },
});
