// The headless loop's side of the store: the kill switch, investigations with their transcripts, outcomes of the
// PRs made, sliding-window counters and the search for similar past incidents. Everything here is shared by every
// process on the file, so limits and the pause hold across processes and restarts.
//
// Nothing stored here is a secret: diagnoses, flags and transcripts are redacted on the way in (every string through
// the configured secrets' redactor, every string under a secret-named field replaced), so a caller cannot forget.

import type { DatabaseSync } from 'node:sqlite';
import { REDACTED, type Redactor } from '../lib/redact.ts';
import { preparedStatements, transaction } from './db.ts';
import type { Change, IncidentStore } from './incidents.ts';
import { SECRET_KEY } from './recorder.ts';

export type Outcome = 'pending' | 'resolved_after_change' | 'not_resolved' | 'pr_closed_unmerged';
export type Mode = 'observe' | 'propose' | 'autonomous';

export interface PauseState {
  paused: boolean;
  /** Who paused (or resumed) it, and when (unix seconds). */
  by?: string;
  at?: number;
  reason?: string;
}

export interface SimilarIncident {
  id: number;
  title: string;
  status: string;
  /** Higher is more alike (bm25, sign flipped). */
  score: number;
  /** Its latest diagnosis's summary, else its latest finding. */
  summary?: string;
  /** The latest outcome of a PR made for it. */
  outcome?: Outcome;
}

export interface InvestigationResult {
  diagnosis: unknown;
  flags: string[];
  transcript: unknown;
  tokens: number;
  modelCalls: number;
  toolCalls: number;
  budgetHit?: string;
  now: number;
  /** Nothing on the timeline (an outage's every probe after the first). */
  quiet?: boolean;
}

export interface Investigation {
  id: number;
  incidentId: number;
  mode: string;
  startedAt: number;
  endedAt?: number;
  diagnosis?: unknown;
  flags: string[];
  tokens: number;
  modelCalls: number;
  toolCalls: number;
  budgetHit?: string;
}

export interface OutcomeRecord {
  repo: string;
  prNumber: number;
  prUrl: string;
  outcome: Outcome;
  at: number;
  /** When GitHub was last asked about it (pending PRs). */
  checkedAt?: number;
  /** The PR's head branch (absent on rows recorded before it was kept). */
  branch?: string;
}

/** What a running investigation has spent so far, and what it holds that would go back were it to go no further. */
export interface Progress {
  tokens: number;
  modelCalls: number;
  toolCalls: number;
  /** The slot of its group's cooldown that its act step took before reaching its PR. */
  cooldown?: { counter: string; at: number };
}

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface AgentStore {
  /** The kill switch, shared by every process on the file. */
  paused(): PauseState;
  setPaused(paused: boolean, by: string, now: number, reason?: string): void;
  /**
   * Past incidents like `incidentId` (same alert names / group labels / words of their findings and diagnoses), best
   * first, with the outcome of what was done, their titles and summaries redacted. Excludes the incident itself.
   */
  similar(incidentId: number, limit: number): SimilarIncident[];
  startInvestigation(incidentId: number, mode: Mode, now: number, owner?: string): number;
  /**
   * Starts an investigation only if `wanted()` still holds, asked inside the same write transaction: two loops on one
   * file never take the same incident. Returns its id, or undefined when it is not wanted (any more).
   */
  claimInvestigation(
    incidentId: number,
    start: { mode: Mode; now: number; owner: string },
    wanted: () => boolean,
  ): number | undefined;
  /**
   * Unfinished investigations, oldest first, with the owner that started them (host:pid; absent on old rows), their
   * figures as last recorded (recordProgress), and the cooldown slot they hold, if any.
   */
  unfinishedInvestigations(): Array<
    Investigation & { owner?: string; cooldown?: { counter: string; at: number } }
  >;
  /**
   * Records what a running investigation has spent so far and the cooldown slot it holds (none when absent), so that
   * the loop that closes it, should its process die, records the one and gives back the other. Nothing once it ended.
   */
  recordProgress(id: number, progress: Progress): void;
  /**
   * Ends an investigation with its checked diagnosis (redacted here) and writes a `diagnosis` event on the incident's
   * timeline (its summary, confidence, flags, budget hit): callers need not add one. False, and nothing written,
   * when it had already ended.
   */
  finishInvestigation(id: number, result: InvestigationResult): boolean;
  /**
   * Deletes an investigation that has not ended, leaving nothing of it (a probe of an LLM outage that was never
   * answered, which the deferral before it stands for). False when it had ended: its ending stands.
   */
  discardInvestigation(id: number): boolean;
  /** An incident's investigations, oldest first, without their transcripts. */
  investigations(incidentId: number): Investigation[];
  /** One investigation, without its transcript. */
  investigation(id: number): Investigation | undefined;
  /** The most recent finished investigation of an incident that has a diagnosis. */
  latestDiagnosis(incidentId: number): Investigation | undefined;
  /** The full transcript of one investigation (messages, tool calls, tokens, durations), kept apart from the incident view. */
  transcript(investigationId: number): unknown;
  /**
   * Records (or updates) the outcome of a PR; a change of outcome is written on the incident's timeline. The head
   * branch is kept once given.
   */
  recordOutcome(o: {
    incidentId: number;
    repo: string;
    prNumber: number;
    prUrl: string;
    outcome: Outcome;
    now: number;
    branch?: string | undefined;
  }): void;
  outcomes(incidentId: number): OutcomeRecord[];
  /** When the learn step last asked GitHub about a pending PR. */
  markOutcomeChecked(incidentId: number, repo: string, prNumber: number, now: number): void;
  /**
   * Drops what the file need not keep: transcripts of investigations that ended before `transcriptsBefore`, and
   * counter slots older than any window (a cooldown of a group that never fires again would stay for ever).
   * Returns how many transcripts went.
   */
  prune(now: number, transcriptsBefore: number | undefined): number;
  /** Sliding-window counters shared by every process on the file (investigations per hour, PRs per hour, cooldowns). */
  take(counter: string, limit: number, windowSeconds: number, now: number): TakeResult;
  /** Gives back a slot taken at `at` (for an action that ended up doing nothing). */
  release(counter: string, at: number): void;
}

export interface AgentStoreOptions {
  /** Scrubs configured secret values; the context passes its redactor. */
  redact?: Redactor | undefined;
  /** Hears the incidents whose view changed (a diagnosis, an outcome), after the commit. */
  onChange?: ((changes: readonly Change[]) => void) | undefined;
}

/**
 * Terms taken from an incident to look for others like it (alert names and label values; words), the rows summed
 * over terms that bm25 may rank, and the most rows a word may match to be worth them.
 */
const MAX_TERMS = 16;
/** The longest window a counter is taken with (agent.cooldownSeconds' maximum, seven days), and a day to spare. */
const LONGEST_WINDOW_SECONDS = 8 * 86_400;
const POSTINGS_BUDGET = 6000;
const WORD_ROWS = 500;
const MAX_WORDS = 16;
// bm25 weights of incident_text's columns: alerts, labels, title, findings, diagnosis.
const RANK = 'bm25(incident_text, 10.0, 5.0, 1.0, 1.0, 2.0)';
// Words that say nothing about what went wrong.
const STOPWORDS = new Set(
  'the and for with that this from was were are has have had not but its into after before over under than then when while which what who whom been being also only very more most less some such can could would should will may might does did done all any each other there their them they about above below between because since until out off per via'.split(
    ' ',
  ),
);
const OUTCOME_WORDS: Record<Outcome, string> = {
  pending: 'PR open, outcome pending',
  resolved_after_change: 'resolved after the change',
  not_resolved: 'not resolved by the change',
  pr_closed_unmerged: 'PR closed unmerged',
};

/** `value` with every string redacted and every string under a secret-named field replaced. */
export function scrub(value: unknown, redact: Redactor, key?: string): unknown {
  if (typeof value === 'string') return key !== undefined && SECRET_KEY.test(key) ? REDACTED : redact(value);
  if (Array.isArray(value)) return value.map(item => scrub(item, redact));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, redact, k)]));
}

/** A field of a diagnosis, whichever case the loop's schema uses (`rootCause` or `root_cause`). */
export function field(diagnosis: unknown, camel: string): unknown {
  if (diagnosis === null || typeof diagnosis !== 'object') return undefined;
  const record = diagnosis as Record<string, unknown>;
  return record[camel] ?? record[camel.replace(/[A-Z]/g, c => `_${c.toLowerCase()}`)];
}

const stringField = (diagnosis: unknown, name: string): string | undefined => {
  const value = field(diagnosis, name);
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
};

/** Words as FTS5's unicode61 tokenizer makes them: runs of letters and digits, folded to lower case. */
function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(w => w !== '');
}

export function createAgentStore(
  db: DatabaseSync,
  incidents: IncidentStore,
  options: AgentStoreOptions = {},
): AgentStore {
  const redact = options.redact ?? ((text: string) => text);
  const sql = preparedStatements(db);
  const json = (value: unknown): string | null =>
    value === undefined ? null : JSON.stringify(scrub(value, redact));
  const parse = (text: string | null): unknown => (text === null ? undefined : JSON.parse(text));
  const notify = (changes: readonly Change[]) => {
    if (changes.length > 0) options.onChange?.(changes);
  };

  type Row = {
    id: number;
    incident_id: number;
    mode: string;
    started_at: number;
    ended_at: number | null;
    diagnosis: string | null;
    flags: string;
    tokens: number;
    model_calls: number;
    tool_calls: number;
    budget_hit: string | null;
  };
  const COLUMNS =
    'id, incident_id, mode, started_at, ended_at, diagnosis, flags, tokens, model_calls, tool_calls, budget_hit';
  function startInvestigation(incidentId: number, mode: Mode, now: number, owner?: string): number {
    const row = sql(
      'INSERT INTO investigations (incident_id, mode, started_at, owner) VALUES (?, ?, ?, ?) RETURNING id',
    ).get(incidentId, mode, now, owner ?? null) as { id: number };
    return row.id;
  }
  const investigation = (row: Row): Investigation => {
    const out: Investigation = {
      id: row.id,
      incidentId: row.incident_id,
      mode: row.mode,
      startedAt: row.started_at,
      flags: JSON.parse(row.flags) as string[],
      tokens: row.tokens,
      modelCalls: row.model_calls,
      toolCalls: row.tool_calls,
    };
    if (row.ended_at !== null) out.endedAt = row.ended_at;
    const diagnosis = parse(row.diagnosis);
    if (diagnosis !== undefined) out.diagnosis = diagnosis;
    if (row.budget_hit !== null) out.budgetHit = row.budget_hit;
    return out;
  };

  /**
   * Search terms for an incident: its alert names and group label values first, then the words of its diagnoses and
   * findings, rarest first. bm25 costs (rows matched) × (terms), so terms are chosen against a budget of rows: a term
   * no other incident has finds nothing, and one in more than half of a large store weighs nothing in bm25 (its IDF is
   * floored), so both are left out; the rest are taken while their rows fit POSTINGS_BUDGET.
   */
  function termsOf(id: number): string[] {
    const row = sql('SELECT alerts, labels, findings, diagnosis FROM incident_text WHERE rowid = ?').get(
      id,
    ) as { alerts: string; labels: string; findings: string; diagnosis: string } | undefined;
    if (!row) return [];
    const strong = [...new Set([...words(row.alerts), ...words(row.labels)])].slice(0, MAX_TERMS);
    const weak = new Set<string>();
    for (const word of words(`${row.diagnosis} ${row.findings}`)) {
      if (weak.size >= MAX_WORDS) break;
      if (word.length >= 3 && !STOPWORDS.has(word) && !/^\d+$/.test(word) && !strong.includes(word))
        weak.add(word);
    }
    const size = (sql('SELECT max(id) AS n FROM incidents').get() as { n: number | null }).n ?? 0;
    const common = size >= 20 ? size / 2 : Infinity;
    let budget = POSTINGS_BUDGET;
    // Rows of a term, counted no further than `cap`.
    const rows = (term: string, cap: number): number =>
      (
        sql(
          'SELECT count(*) AS n FROM (SELECT rowid FROM incident_text WHERE incident_text MATCH ? LIMIT ?)',
        ).get(`"${term}"`, cap + 1) as { n: number }
      ).n;
    const chosen: string[] = [];
    const weighed: Array<{ term: string; n: number }> = [];
    for (const term of strong) {
      const n = rows(term, budget);
      if (n <= 1 || n > common || n > budget) continue;
      chosen.push(term);
      budget -= n;
    }
    // A word is worth its rows only when it is rare enough to tell incidents apart.
    const wordCap = Math.min(budget, WORD_ROWS);
    for (const term of weak) {
      const n = rows(term, wordCap);
      if (n > 1 && n <= common && n <= wordCap) weighed.push({ term, n });
    }
    for (const { term, n } of weighed.sort((a, b) => a.n - b.n)) {
      if (n > budget) break;
      chosen.push(term);
      budget -= n;
    }
    return chosen;
  }

  return {
    paused() {
      const row = sql("SELECT value FROM settings WHERE key = 'paused'").get() as
        { value: string } | undefined;
      return row ? (JSON.parse(row.value) as PauseState) : { paused: false };
    },
    setPaused(paused, by, now, reason) {
      const state: PauseState = { paused, by, at: now, ...(reason === undefined ? {} : { reason }) };
      sql(
        "INSERT INTO settings (key, value) VALUES ('paused', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ).run(redact(JSON.stringify(state)));
    },

    similar(incidentId, limit) {
      const terms = termsOf(incidentId);
      if (terms.length === 0 || limit <= 0) return [];
      const match = terms.map(term => `"${term}"`).join(' OR ');
      const rows = sql(
        `SELECT s.id, s.score, i.title, i.status FROM (
           SELECT rowid AS id, -${RANK} AS score FROM incident_text
           WHERE incident_text MATCH ? AND rowid <> ? ORDER BY ${RANK} LIMIT ?
         ) s JOIN incidents i ON i.id = s.id ORDER BY s.score DESC`,
      ).all(match, incidentId, limit) as Array<{ id: number; score: number; title: string; status: string }>;
      return rows.map(row => {
        // Titles (group label values) and findings are stored as they came: what goes to the model is scrubbed.
        const out: SimilarIncident = {
          id: row.id,
          title: redact(row.title),
          status: row.status,
          // bm25 is tiny in a small store (few documents, flat term weights): three significant digits, not decimals.
          score: Number(row.score.toPrecision(3)),
        };
        const diagnosed = sql(
          "SELECT json_extract(diagnosis, '$.summary') AS summary FROM investigations WHERE incident_id = ? AND diagnosis IS NOT NULL ORDER BY id DESC LIMIT 1",
        ).get(row.id) as { summary: unknown } | undefined;
        const found = sql(
          "SELECT summary FROM events WHERE incident_id = ? AND kind = 'finding' ORDER BY id DESC LIMIT 1",
        ).get(row.id) as { summary: string } | undefined;
        const summary = typeof diagnosed?.summary === 'string' ? diagnosed.summary : found?.summary;
        if (summary !== undefined) out.summary = redact(summary);
        const outcome = sql(
          'SELECT outcome FROM outcomes WHERE incident_id = ? ORDER BY at DESC, rowid DESC LIMIT 1',
        ).get(row.id) as { outcome: Outcome } | undefined;
        if (outcome) out.outcome = outcome.outcome;
        return out;
      });
    },

    startInvestigation,
    claimInvestigation(incidentId, { mode, now, owner }, wanted) {
      return transaction(db, () => (wanted() ? startInvestigation(incidentId, mode, now, owner) : undefined));
    },
    unfinishedInvestigations: () =>
      (
        sql(
          `SELECT ${COLUMNS}, owner, transcript FROM investigations WHERE ended_at IS NULL ORDER BY id`,
        ).all() as Array<Row & { owner: string | null; transcript: string | null }>
      ).map(row => {
        // A running investigation's transcript column holds its progress (recordProgress) until it ends.
        const cooldown = (parse(row.transcript) as { progress?: { cooldown?: unknown } } | undefined)
          ?.progress?.cooldown as { counter?: unknown; at?: unknown } | undefined;
        return {
          ...investigation(row),
          ...(row.owner === null ? {} : { owner: row.owner }),
          ...(typeof cooldown?.counter === 'string' && typeof cooldown.at === 'number'
            ? { cooldown: { counter: cooldown.counter, at: cooldown.at } }
            : {}),
        };
      }),
    recordProgress(id, progress) {
      sql(
        'UPDATE investigations SET tokens = ?, model_calls = ?, tool_calls = ?, transcript = ? WHERE id = ? AND ended_at IS NULL',
      ).run(
        progress.tokens,
        progress.modelCalls,
        progress.toolCalls,
        progress.cooldown ? json({ progress: { cooldown: progress.cooldown } }) : null,
        id,
      );
    },

    finishInvestigation(id, result) {
      const changes = transaction(db, () => {
        const row = sql('SELECT incident_id, ended_at FROM investigations WHERE id = ?').get(id) as
          { incident_id: number; ended_at: number | null } | undefined;
        if (!row) throw new Error(`there is no investigation ${id}`);
        // Already ended: closed as abandoned by another loop that took this process for dead. Its ending stands.
        if (row.ended_at !== null) return undefined;
        const flags = result.flags.map(flag => redact(flag));
        const budgetHit = result.budgetHit === undefined ? null : redact(result.budgetHit);
        sql(
          `UPDATE investigations SET ended_at = ?, diagnosis = ?, flags = ?, tokens = ?, model_calls = ?, tool_calls = ?,
             budget_hit = ?, transcript = ? WHERE id = ?`,
        ).run(
          result.now,
          json(result.diagnosis ?? undefined),
          JSON.stringify(flags),
          result.tokens,
          result.modelCalls,
          result.toolCalls,
          budgetHit,
          json(result.transcript),
          id,
        );
        if (result.quiet === true) return [];
        const summary = stringField(result.diagnosis, 'summary');
        const rootCause = stringField(result.diagnosis, 'rootCause');
        const confidence = field(result.diagnosis, 'confidence');
        if (summary !== undefined || rootCause !== undefined) {
          sql(
            'UPDATE incident_text SET diagnosis = trim(diagnosis || ? || ?) WHERE rowid = ? AND length(diagnosis) < 4000',
          ).run(' ', redact(`${summary ?? ''} ${rootCause ?? ''}`.slice(0, 2000)), row.incident_id);
        }
        const facts = [
          typeof confidence === 'number' ? `confidence ${confidence}` : undefined,
          flags.length > 0 ? `${flags.length} flagged` : undefined,
          budgetHit === null ? undefined : `budget hit: ${budgetHit}`,
        ].filter((f): f is string => f !== undefined);
        const what =
          summary === undefined
            ? `investigation ${id} ended without a diagnosis`
            : `${budgetHit === null ? 'diagnosis' : 'partial diagnosis'} (investigation ${id}${facts.length > 0 ? `, ${facts.join(', ')}` : ''}): ${redact(summary).slice(0, 200)}`;
        return incidents.addEvent(
          row.incident_id,
          {
            kind: 'diagnosis',
            summary: what,
            data: {
              investigation: id,
              ...(typeof confidence === 'number' ? { confidence } : {}),
              flags: flags.length,
              ...(budgetHit === null ? {} : { budget_hit: budgetHit }),
            },
          },
          result.now,
        );
      });
      if (changes === undefined) return false;
      notify(changes);
      return true;
    },

    discardInvestigation: id =>
      Number(sql('DELETE FROM investigations WHERE id = ? AND ended_at IS NULL').run(id).changes) > 0,

    investigations: incidentId =>
      (
        sql(`SELECT ${COLUMNS} FROM investigations WHERE incident_id = ? ORDER BY id`).all(
          incidentId,
        ) as unknown as Row[]
      ).map(investigation),
    investigation(id) {
      const row = sql(`SELECT ${COLUMNS} FROM investigations WHERE id = ?`).get(id) as Row | undefined;
      return row ? investigation(row) : undefined;
    },
    latestDiagnosis(incidentId) {
      const row = sql(
        `SELECT ${COLUMNS} FROM investigations WHERE incident_id = ? AND ended_at IS NOT NULL AND diagnosis IS NOT NULL
         ORDER BY id DESC LIMIT 1`,
      ).get(incidentId) as Row | undefined;
      return row ? investigation(row) : undefined;
    },
    transcript(investigationId) {
      const row = sql('SELECT transcript, ended_at FROM investigations WHERE id = ?').get(investigationId) as
        { transcript: string | null; ended_at: number | null } | undefined;
      // Until it ends, the column holds the loop's progress (recordProgress), not a transcript.
      if (row?.ended_at === null) return undefined;
      return row ? parse(row.transcript) : undefined;
    },

    recordOutcome(o) {
      const changes = transaction(db, () => {
        const before = sql(
          'SELECT outcome FROM outcomes WHERE incident_id = ? AND repo = ? AND pr_number = ?',
        ).get(o.incidentId, o.repo, o.prNumber) as { outcome: Outcome } | undefined;
        sql(
          `INSERT INTO outcomes (incident_id, repo, pr_number, pr_url, outcome, at, branch) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (incident_id, repo, pr_number) DO UPDATE SET pr_url = excluded.pr_url, outcome = excluded.outcome,
             at = excluded.at, branch = coalesce(excluded.branch, branch)`,
        ).run(o.incidentId, o.repo, o.prNumber, o.prUrl, o.outcome, o.now, o.branch ?? null);
        if (before?.outcome === o.outcome) return [];
        return incidents.addEvent(
          o.incidentId,
          {
            kind: 'outcome',
            summary: `${o.repo}#${o.prNumber}: ${OUTCOME_WORDS[o.outcome]}`,
            data: { repo: o.repo, pr_number: o.prNumber, pr_url: o.prUrl, outcome: o.outcome },
          },
          o.now,
        );
      });
      notify(changes);
    },
    outcomes: incidentId =>
      (
        sql(
          'SELECT repo, pr_number, pr_url, outcome, at, checked_at, branch FROM outcomes WHERE incident_id = ? ORDER BY at, rowid',
        ).all(incidentId) as Array<{
          repo: string;
          pr_number: number;
          pr_url: string;
          outcome: Outcome;
          at: number;
          checked_at: number | null;
          branch: string | null;
        }>
      ).map(r => ({
        repo: r.repo,
        prNumber: r.pr_number,
        prUrl: r.pr_url,
        outcome: r.outcome,
        at: r.at,
        ...(r.checked_at === null ? {} : { checkedAt: r.checked_at }),
        ...(r.branch === null ? {} : { branch: r.branch }),
      })),
    markOutcomeChecked(incidentId, repo, prNumber, now) {
      sql('UPDATE outcomes SET checked_at = ? WHERE incident_id = ? AND repo = ? AND pr_number = ?').run(
        now,
        incidentId,
        repo,
        prNumber,
      );
    },

    prune(now, transcriptsBefore) {
      return transaction(db, () => {
        sql('DELETE FROM counter_hits WHERE at <= ?').run(now - LONGEST_WINDOW_SECONDS);
        if (transcriptsBefore === undefined) return 0;
        return Number(
          sql(
            'UPDATE investigations SET transcript = NULL WHERE transcript IS NOT NULL AND ended_at < ?',
          ).run(transcriptsBefore).changes,
        );
      });
    },

    take(counter, limit, windowSeconds, now) {
      // One write transaction: the count and the new slot cannot interleave with another process's.
      return transaction(db, (): TakeResult => {
        // Slots older than the window (at least a day, whatever window a caller uses) are of no more use.
        sql('DELETE FROM counter_hits WHERE counter = ? AND at <= ?').run(
          counter,
          now - Math.max(windowSeconds, 86_400),
        );
        const since = now - windowSeconds;
        const { n } = sql('SELECT count(*) AS n FROM counter_hits WHERE counter = ? AND at > ?').get(
          counter,
          since,
        ) as { n: number };
        if (n >= limit) {
          // A slot frees when the hit that brings the count below the limit leaves the window.
          const freeing = sql(
            'SELECT at FROM counter_hits WHERE counter = ? AND at > ? ORDER BY at LIMIT 1 OFFSET ?',
          ).get(counter, since, n - limit) as { at: number } | undefined;
          const at = freeing?.at ?? now;
          return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(at + windowSeconds - now)) };
        }
        sql('INSERT INTO counter_hits (counter, at) VALUES (?, ?)').run(counter, now);
        return { ok: true };
      });
    },
    release(counter, at) {
      sql(
        'DELETE FROM counter_hits WHERE id = (SELECT id FROM counter_hits WHERE counter = ? AND at = ? ORDER BY id DESC LIMIT 1)',
      ).run(counter, at);
    },
  };
}
