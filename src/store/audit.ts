// The audit log: one hash-chained row per tool call. Each row stores the hash of the row before it and a hash
// over its own content and that previous hash, so an edited row, or a removed one, breaks the chain where it was.
// A chain cannot show that its newest rows were cut off — what is left is still a valid chain — so each commit
// also writes the head (id and hash) to an anchor file beside the database, which verify() holds the table to.
// Whoever can rewrite both files (and recompute the chain) can still forge history: keep the anchor where that
// is harder (another volume, shipped logs), and keep the file's permissions tight.

import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { DatabaseSync, StatementSync } from 'node:sqlite';

export interface AuditEntry {
  /** Unix seconds. */
  at: number;
  tool: string;
  /** `name/version` of the MCP client, when it said. */
  client?: string | undefined;
  session?: string | undefined;
  /** Arguments as recorded: secrets redacted, large values replaced by their hash. */
  args: string;
  outcome: 'ok' | 'error';
  code?: string | undefined;
  ms: number;
}

export interface AuditRow extends AuditEntry {
  id: number;
  prev_hash: string;
  hash: string;
}

export type Verdict =
  | {
      ok: true;
      rows: number;
      head: string;
      /** Whether an anchor file vouched for the newest row. */ anchored: boolean;
    }
  | { ok: false; rows: number; row: number; problem: string };

export interface AuditLog {
  append(entry: AuditEntry): void;
  /** Several rows in one transaction. */
  appendAll(entries: readonly AuditEntry[]): void;
  tail(count: number): AuditRow[];
  get(id: number): AuditRow | undefined;
  verify(): Verdict;
}

/** The hash of a row: sha256 over the previous row's hash and the row's fields, in a fixed order. */
/** A row's own columns, in the order they are hashed and stored. */
export type RowFields = readonly [
  id: number,
  at: number,
  tool: string,
  client: string | null,
  session: string | null,
  args: string,
  outcome: string,
  code: string | null,
  ms: number,
];

export function rowHash(prev: string, fields: RowFields): string {
  return createHash('sha256').update(prev).update('\n').update(JSON.stringify(fields)).digest('hex');
}

// SQLite keeps text as UTF-8, where a lone UTF-16 surrogate (a client may send "\ud800" in a tool or client name)
// has no place: it would be stored as U+FFFD, and the hash taken of the string given would never match the row read
// back, so one call would leave the log "altered" for ever. Rows are hashed as they will be read.
const text = (value: string): string => value.toWellFormed();
const nullableText = (value: string | undefined): string | null => (value === undefined ? null : text(value));

// A function, so that the check reads the connection's state now, not what the compiler last saw of it.
const inTransaction = (db: DatabaseSync): boolean => db.isTransaction;

interface Anchor {
  id: number;
  hash: string;
}

/** `anchorPath`: where the head is written after each commit; none for an in-memory store. */
export function createAuditLog(db: DatabaseSync, anchorPath?: string): AuditLog {
  const columns = 'id, at, tool, client, session, args, outcome, code, ms, prev_hash, hash';
  let head: StatementSync | undefined;
  let insert: StatementSync | undefined;
  // Rows are chained inside one write transaction (BEGIN IMMEDIATE holds SQLite's write lock from the start), so
  // two processes appending to one file keep one chain; each row is then one prepared INSERT, its hash computed
  // here: a batch costs one commit, not one per row.
  function appendAll(entries: readonly AuditEntry[]): void {
    if (entries.length === 0) return;
    head ??= db.prepare('SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1');
    insert ??= db.prepare(`INSERT INTO audit (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const own = !db.isTransaction;
    let id: number;
    let prev: string;
    if (own) db.exec('BEGIN IMMEDIATE');
    try {
      const last = head.get() as { id: number; hash: string } | undefined;
      id = last?.id ?? 0;
      prev = last?.hash ?? '';
      for (const entry of entries) {
        id++;
        const fields: RowFields = [
          id,
          entry.at,
          text(entry.tool),
          nullableText(entry.client),
          nullableText(entry.session),
          text(entry.args),
          entry.outcome,
          nullableText(entry.code),
          Math.round(entry.ms * 100) / 100,
        ];
        const hash = rowHash(prev, fields);
        insert.run(...fields, prev, hash);
        prev = hash;
      }
      if (own) db.exec('COMMIT');
    } catch (error) {
      if (own && inTransaction(db)) db.exec('ROLLBACK');
      throw error;
    }
    // Only after our own commit do we know the rows are there (a caller's transaction may yet roll back).
    if (own) writeAnchor({ id, hash: prev });
  }

  function writeAnchor(anchor: Anchor): void {
    if (anchorPath === undefined) return;
    // Best effort, never a failed append: the rows are committed, and a retry would write them twice. Another
    // process sharing the file may leave an older head here, which verify() accepts (the table may be ahead).
    try {
      const temporary = `${anchorPath}.${process.pid}.tmp`;
      writeFileSync(temporary, `${JSON.stringify(anchor)}\n`, { mode: 0o600 });
      renameSync(temporary, anchorPath);
    } catch {
      // The next commit tries again.
    }
  }

  function readAnchor(): Anchor | undefined {
    if (anchorPath === undefined) return undefined;
    let text: string;
    try {
      text = readFileSync(anchorPath, 'utf8');
    } catch {
      return undefined;
    }
    // An anchor that does not read as one was tampered with or torn: it vouches for nothing the table has, which
    // verify() reports (an id no row reaches).
    let anchor: Partial<Anchor> | null;
    try {
      anchor = JSON.parse(text) as Partial<Anchor> | null;
    } catch {
      anchor = null;
    }
    return typeof anchor?.id === 'number' && typeof anchor.hash === 'string'
      ? { id: anchor.id, hash: anchor.hash }
      : { id: Number.POSITIVE_INFINITY, hash: '' };
  }
  return {
    append: entry => {
      appendAll([entry]);
    },
    appendAll,
    tail: count =>
      (
        db
          .prepare(`SELECT ${columns} FROM audit ORDER BY id DESC LIMIT ?`)
          .all(count) as unknown as AuditRow[]
      ).reverse(),
    get: id => db.prepare(`SELECT ${columns} FROM audit WHERE id = ?`).get(id) as AuditRow | undefined,
    verify() {
      const anchor = readAnchor();
      let anchorSeen = false;
      let prev = '';
      let expectedId = 1;
      let rows = 0;
      for (const raw of db.prepare(`SELECT ${columns} FROM audit ORDER BY id`).iterate()) {
        const row = raw as unknown as AuditRow & {
          client: string | null;
          session: string | null;
          code: string | null;
        };
        rows++;
        if (row.id !== expectedId) {
          const gap =
            row.id - 1 === expectedId ? `row ${expectedId} was` : `rows ${expectedId}–${row.id - 1} were`;
          return {
            ok: false,
            rows,
            row: expectedId,
            problem: `${gap} removed (row ${row.id} follows row ${expectedId - 1})`,
          };
        }
        if (row.prev_hash !== prev) {
          return {
            ok: false,
            rows,
            row: row.id - 1,
            problem: `row ${row.id - 1} was altered or replaced: row ${row.id} no longer follows it`,
          };
        }
        const hash = rowHash(prev, [
          row.id,
          row.at,
          row.tool,
          row.client,
          row.session,
          row.args,
          row.outcome,
          row.code,
          row.ms,
        ]);
        if (hash !== row.hash) {
          return {
            ok: false,
            rows,
            row: row.id,
            problem: `row ${row.id} was altered: its content no longer matches its hash`,
          };
        }
        if (anchor && row.id === anchor.id) {
          if (row.hash !== anchor.hash) {
            return {
              ok: false,
              rows,
              row: row.id,
              problem: `row ${row.id} was replaced: its hash is not the one ${anchorPath ?? 'the anchor'} recorded`,
            };
          }
          anchorSeen = true;
        }
        prev = row.hash;
        expectedId++;
      }
      if (anchor && !anchorSeen) {
        const first = rows + 1;
        const which =
          anchor.id === first
            ? `row ${first} was`
            : `rows ${first}${Number.isFinite(anchor.id) ? `–${anchor.id}` : ' and later'} were`;
        return {
          ok: false,
          rows,
          row: first,
          problem: `${which} removed from the end (${anchorPath ?? 'the anchor'} records a head the table no longer has)`,
        };
      }
      return { ok: true, rows, head: prev, anchored: anchor !== undefined };
    },
  };
}
