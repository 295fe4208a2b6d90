// The structured diagnosis an investigation ends with, and the citation check that holds it to the ledger.

import { z } from 'zod';
import type { Ledger } from './ledger.ts';

const fileChange = z.object({
  path: z.string().describe('path in the repository'),
  action: z.enum(['create', 'update', 'delete']),
  content: z.string().nullable().describe('the whole new file text (null for delete)'),
  sha: z.string().nullable().describe("for update: the file's blob sha from read_repo"),
});

/** The tool the model answers with (the schema's title). */
export const DIAGNOSIS_TOOL = 'diagnosis';

export const diagnosisSchema = z
  .object({
    summary: z.string().describe('what happened, in one or two sentences'),
    rootCause: z.string().describe('the cause, as established by the evidence'),
    confidence: z.number().min(0).max(1).describe('0 to 1'),
    evidence: z
      .array(
        z.object({
          call: z.string().describe('the id of a tool call you made in this investigation'),
          shows: z.string().describe('what its result shows'),
        }),
      )
      .describe('every claim rests on these tool calls'),
    proposedChange: z
      .object({
        repo: z.string().describe('owner/repo'),
        files: z.array(fileChange),
        rationale: z.string(),
      })
      .nullable()
      .describe('the fix, or null when none is warranted'),
    nextSteps: z.array(z.string()),
  })
  .meta({
    title: DIAGNOSIS_TOOL,
    description:
      'Your answer: the diagnosis of the incident, citing the tool calls it rests on. Call it once, last.',
  });

export type Diagnosis = z.output<typeof diagnosisSchema>;
export type ProposedChange = NonNullable<Diagnosis['proposedChange']>;

export interface CheckedDiagnosis extends Diagnosis {
  /** The model's own confidence, before the check lowered it. */
  statedConfidence: number;
  flags: string[];
  /** Evidence whose call is in the ledger, with the call's tool and arguments. */
  cited: Array<{ call: string; tool: string; args: unknown; ok: boolean; shows: string }>;
}

/** Each citation of a call that never happened halves the confidence; with no valid evidence it is at most this. */
const UNSUPPORTED_CAP = 0.2;

/**
 * Holds the diagnosis to the ledger: evidence naming a call that did not happen is flagged (`uncited_call:<id>`),
 * evidence naming a call that failed or was refused is flagged (`failed_call:<id>`) — its result is an error text,
 * which shows nothing about the incident — a root cause standing on no successful call is flagged (`no_evidence`),
 * and each lowers the confidence. A call the loop made itself (the sandbox run a revision answers) is evidence like
 * the model's own.
 */
export function checkCitations(diagnosis: Diagnosis, ledger: Ledger): CheckedDiagnosis {
  const flags: string[] = [];
  const cited: CheckedDiagnosis['cited'] = [];
  let confidence = diagnosis.confidence;
  for (const item of diagnosis.evidence) {
    const entry = ledger.get(item.call);
    if (!entry) {
      flags.push(`uncited_call:${item.call}`);
      confidence /= 2;
      continue;
    }
    if (!entry.ok) {
      flags.push(`failed_call:${item.call}`);
      confidence /= 2;
      continue;
    }
    cited.push({ call: item.call, tool: entry.tool, args: entry.args, ok: entry.ok, shows: item.shows });
  }
  if (cited.length === 0) {
    flags.push('no_evidence');
    confidence = Math.min(confidence, UNSUPPORTED_CAP);
  }
  if (ledger.entries.every(e => e.by !== 'model')) flags.push('no_tool_calls');
  return {
    ...diagnosis,
    confidence: Math.round(confidence * 1000) / 1000,
    statedConfidence: diagnosis.confidence,
    flags,
    cited,
  };
}

/** What an investigation that ended early (a budget, the LLM gone) still says: what was looked at, and why it stopped. */
export function partialDiagnosis(reason: string, ledger: Ledger): CheckedDiagnosis {
  // Only the calls that reached a tool were made: those the loop refused did nothing, and are told apart.
  const attempts = ledger.entries.filter(e => e.by === 'model');
  const calls = attempts.filter(e => e.heldBack !== true);
  const refused = attempts.length - calls.length;
  return {
    summary: `Investigation ended before a diagnosis: ${reason}.`,
    rootCause: 'unknown',
    confidence: 0,
    statedConfidence: 0,
    evidence: [],
    proposedChange: null,
    nextSteps: [
      `Investigate further by hand: ${calls.length} tool call(s) were made (${[...new Set(calls.map(c => c.tool))].join(', ') || 'none'})${refused > 0 ? `; ${refused} more were refused before reaching a tool` : ''}.`,
    ],
    flags: ['partial', `stopped:${reason}`],
    cited: [],
  };
}

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** The diagnosis as annotate_incident's finding (or note, when nothing supports it) and evidence strings. */
export function asAnnotation(d: CheckedDiagnosis): { finding?: string; note?: string; evidence: string[] } {
  const flags = d.flags.length > 0 ? ` Flags: ${d.flags.join(', ')}.` : '';
  const text = clip(
    `Diagnosis (confidence ${d.confidence}${d.confidence === d.statedConfidence ? '' : `, stated ${d.statedConfidence}`}): ${d.summary} Root cause: ${d.rootCause}.${flags}`,
    4000,
  );
  const evidence = d.cited
    .slice(0, 20)
    .map(c =>
      clip(`${c.call} ${c.tool}(${JSON.stringify(c.args)})${c.ok ? '' : ' [error]'}: ${c.shows}`, 1000),
    );
  return evidence.length > 0 ? { finding: text, evidence } : { note: `Unsupported ${text}`, evidence };
}
