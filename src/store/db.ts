// Opens the SQLite file (node:sqlite, no native build): WAL, a busy timeout, and the schema migrated to this version.

import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.ts';

/** A store that cannot be used: the message names the file and what to do, like a ConfigError. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
}

export interface OpenOptions {
  busyTimeoutMs: number;
}

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;

/** What went wrong with `path`, in words an operator can act on. */
export function describeStoreFailure(path: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  const errcode = (error as { errcode?: number }).errcode;
  const where = `DEVOPS_MCP_DB: ${path}`;
  switch (errcode ?? 0) {
    case SQLITE_NOTADB:
      return new StoreError(
        `${where} is not a devops-mcp database (not SQLite at all); move it away or set DEVOPS_MCP_DB to another file`,
      );
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return new StoreError(
        `${where} stayed locked by another process for longer than store.busyTimeoutMs; stop the process holding it (another devops-mcp or an sqlite3 shell with an open transaction) or raise store.busyTimeoutMs`,
      );
    case SQLITE_CANTOPEN:
      return new StoreError(
        `${where} cannot be opened; check that its directory exists and is writable, or set DEVOPS_MCP_DB to another file`,
      );
    default:
      return new StoreError(`${where} cannot be used: ${(error as Error).message}`);
  }
}

export function openDatabase(path: string, options: OpenOptions): DatabaseSync {
  // Two processes starting together on a new file can meet SQLITE_BUSY where SQLite does not wait by itself:
  // switching the file to WAL needs an exclusive lock, and the busy timeout does not cover that. So the whole
  // open is tried again until the busy timeout has passed.
  const started = Date.now();
  for (;;) {
    try {
      return openOnce(path, options);
    } catch (error) {
      const errcode = (error as { errcode?: number }).errcode;
      const busy = errcode === SQLITE_BUSY || errcode === SQLITE_LOCKED;
      if (!busy || Date.now() - started >= options.busyTimeoutMs) throw describeStoreFailure(path, error);
      Atomics.wait(PAUSE, 0, 0, 25);
    }
  }
}

// What Atomics.wait sleeps on between attempts (a synchronous open has no event loop to wait on).
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

function openOnce(path: string, options: OpenOptions): DatabaseSync {
  let db: DatabaseSync | undefined;
  try {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // The file holds transcripts of production metrics and logs: readable by its owner only, wherever it is put
      // (the umask would leave it 0644 in a shared directory). SQLite gives its -wal and -shm files the mode of
      // the database. An existing file keeps the mode its owner chose; whatever fails here, SQLite says below.
      try {
        closeSync(openSync(path, 'wx', 0o600));
      } catch {
        // There already (EEXIST), or not creatable: SQLite's own open reports the latter.
      }
    }
    db = new DatabaseSync(path, { timeout: options.busyTimeoutMs });
    // Reading the header first: a file that is not SQLite fails here, before anything is written to it.
    const version = userVersion(db);
    if (version > SCHEMA_VERSION) throw newerSchema(path, version);
    // WAL is a property of the file: only its first open switches it (the step that needs the exclusive lock).
    const mode = db.prepare('PRAGMA journal_mode').get() as { journal_mode: string } | undefined;
    if (mode?.journal_mode !== 'wal' && path !== ':memory:') db.exec('PRAGMA journal_mode = WAL');
    // In WAL mode NORMAL syncs at checkpoints only: a crash of the process loses nothing, a power cut may lose
    // the last commits. It keeps an audit row to a WAL append (tens of microseconds) instead of an fsync.
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA foreign_keys = ON');
    migrate(db, path);
    return db;
  } catch (error) {
    db?.close();
    throw error;
  }
}

function userVersion(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number } | undefined;
  return row?.user_version ?? 0;
}

function newerSchema(path: string, version: number): StoreError {
  return new StoreError(
    `DEVOPS_MCP_DB: ${path} has schema version ${version}, newer than this devops-mcp knows (${SCHEMA_VERSION}); upgrade devops-mcp, or set DEVOPS_MCP_DB to another file`,
  );
}

function migrate(db: DatabaseSync, path: string): void {
  if (userVersion(db) === SCHEMA_VERSION) return;
  // IMMEDIATE takes the write lock first, so two processes starting together migrate once.
  db.exec('BEGIN IMMEDIATE');
  try {
    const current = userVersion(db);
    if (current > SCHEMA_VERSION) throw newerSchema(path, current);
    for (let version = current; version < SCHEMA_VERSION; version++) {
      db.exec(MIGRATIONS[version] ?? '');
    }
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

/**
 * Runs `work` in one write transaction (BEGIN IMMEDIATE: the lock is taken up front, so it cannot deadlock). Called
 * inside a transaction, `work` joins it: the outer one commits or rolls back everything.
 */
export function transaction<T>(db: DatabaseSync, work: () => T): T {
  if (inTransaction(db)) return work();
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    if (inTransaction(db)) db.exec('ROLLBACK');
    throw error;
  }
}

// A function, so that each check reads the connection's state now, not what the compiler last saw of it.
function inTransaction(db: DatabaseSync): boolean {
  return db.isTransaction;
}

/** A statement per SQL text, prepared on first use and reused: the store's queries are fixed strings. */
export function preparedStatements(db: DatabaseSync): (text: string) => StatementSync {
  const cache = new Map<string, StatementSync>();
  return text => {
    let statement = cache.get(text);
    if (!statement) {
      statement = db.prepare(text);
      cache.set(text, statement);
    }
    return statement;
  };
}
