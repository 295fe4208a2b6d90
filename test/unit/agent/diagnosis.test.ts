import { describe, expect, it } from 'vitest';
import {
  asAnnotation,
  checkCitations,
  partialDiagnosis,
  type Diagnosis,
} from '../../../src/agent/diagnosis.ts';
import { createLedger } from '../../../src/agent/ledger.ts';

function ledgerWith(...ids: string[]) {
  const ledger = createLedger();
  for (const id of ids) {
    ledger.record({
      id,
      tool: 'query_prometheus',
      args: { query: 'up' },
      by: 'model',
      ok: true,
      ms: 1,
      at: 0,
      result: 'ok',
    });
  }
  return ledger;
}

const base: Diagnosis = {
  summary: 's',
  rootCause: 'r',
  confidence: 0.8,
  evidence: [{ call: 'call_a', shows: 'up is 0' }],
  proposedChange: null,
  nextSteps: [],
};

describe('the citation check', () => {
  it('keeps a diagnosis whose evidence names calls of the ledger as it is', () => {
    const checked = checkCitations(base, ledgerWith('call_a'));
    expect(checked).toMatchObject({ confidence: 0.8, statedConfidence: 0.8, flags: [] });
    expect(checked.cited).toEqual([
      { call: 'call_a', tool: 'query_prometheus', args: { query: 'up' }, ok: true, shows: 'up is 0' },
    ]);
  });

  it('halves the confidence for each citation of a call that did not happen', () => {
    const d = {
      ...base,
      evidence: [...base.evidence, { call: 'call_x', shows: '?' }, { call: 'call_y', shows: '?' }],
    };
    const checked = checkCitations(d, ledgerWith('call_a'));
    expect(checked.flags).toEqual(['uncited_call:call_x', 'uncited_call:call_y']);
    expect(checked.confidence).toBe(0.2);
  });

  it('caps a claim with no evidence at 0.2 and says no tool was called', () => {
    const checked = checkCitations({ ...base, evidence: [], confidence: 1 }, createLedger());
    expect(checked.flags).toEqual(['no_evidence', 'no_tool_calls']);
    expect(checked.confidence).toBe(0.2);
  });

  it('flags evidence resting on a call that failed or was refused, and lowers the confidence as for one never made', () => {
    const ledger = ledgerWith('call_a');
    ledger.record({
      id: 'call_b',
      tool: 'get_incident',
      args: { id: 999 },
      by: 'model',
      ok: false,
      code: 'NOT_FOUND',
      ms: 1,
      at: 0,
      result: 'NOT_FOUND: There is no incident 999.',
    });
    const both = checkCitations(
      { ...base, evidence: [...base.evidence, { call: 'call_b', shows: '?' }] },
      ledger,
    );
    expect(both).toMatchObject({ confidence: 0.4, statedConfidence: 0.8, flags: ['failed_call:call_b'] });
    expect(both.cited.map(c => c.call)).toEqual(['call_a']);
    const only = checkCitations(
      { ...base, evidence: [{ call: 'call_b', shows: 'the disk is full' }] },
      ledger,
    );
    expect(only).toMatchObject({ confidence: 0.2, flags: ['failed_call:call_b', 'no_evidence'], cited: [] });
  });

  it('takes the loop’s own successful calls as evidence: a revision cites the sandbox run it answers', () => {
    const ledger = ledgerWith('call_a');
    ledger.record({
      id: 'loop_1',
      tool: 'run_sandbox_test',
      args: {},
      by: 'loop',
      ok: true,
      ms: 1,
      at: 0,
      result: '{"passed":false}',
    });
    const checked = checkCitations(
      { ...base, evidence: [...base.evidence, { call: 'loop_1', shows: 'the test still fails' }] },
      ledger,
    );
    expect(checked.flags).toEqual([]);
    expect(checked.confidence).toBe(0.8);
  });

  it('does not take the loop’s own calls for the model’s evidence', () => {
    const ledger = createLedger();
    ledger.record({
      id: 'loop_1',
      tool: 'run_sandbox_test',
      args: {},
      by: 'loop',
      ok: true,
      ms: 1,
      at: 0,
      result: '',
    });
    expect(checkCitations({ ...base, evidence: [] }, ledger).flags).toContain('no_tool_calls');
  });
});

describe('the annotation of a diagnosis', () => {
  it('is a finding with one evidence line per cited call', () => {
    const a = asAnnotation(checkCitations(base, ledgerWith('call_a')));
    expect(a.finding).toBe('Diagnosis (confidence 0.8): s Root cause: r.');
    expect(a.evidence).toEqual(['call_a query_prometheus({"query":"up"}): up is 0']);
  });

  it('is a note when nothing supports it, and a partial diagnosis says why it stopped', () => {
    const a = asAnnotation(partialDiagnosis('model_calls budget reached (24 of 24)', ledgerWith('call_a')));
    expect(a.finding).toBeUndefined();
    expect(a.note).toMatch(
      /^Unsupported Diagnosis \(confidence 0\): Investigation ended before a diagnosis: model_calls budget reached/,
    );
    expect(a.note).toContain('Flags: partial, stopped:model_calls budget reached (24 of 24)');
  });
});
