import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, StoreError } from '../../../src/store/db.ts';
import { defaultDbPath } from '../../../src/store/paths.ts';
import { SCHEMA_VERSION } from '../../../src/store/schema.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'devops-mcp-db-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('opening the store', () => {
  it('creates the file and its directory, in WAL mode, at the current schema version', () => {
    const path = join(dir, 'state', 'devops-mcp', 'devops-mcp.db');
    const db = openDatabase(path, { busyTimeoutMs: 1000 });
    expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    expect(db.prepare('PRAGMA user_version').get()).toEqual({ user_version: SCHEMA_VERSION });
    db.close();
    // A second open finds the schema in place.
    openDatabase(path, { busyTimeoutMs: 1000 }).close();
  });

  it('creates the file and its WAL readable by its owner only, whatever the umask', () => {
    const path = join(dir, 'shared', 'devops-mcp.db');
    mkdirSync(join(dir, 'shared'), { mode: 0o755 });
    const umask = process.umask(0o022);
    try {
      const db = openDatabase(path, { busyTimeoutMs: 1000 });
      db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
      for (const file of [path, `${path}-wal`, `${path}-shm`])
        expect(statSync(file).mode & 0o777).toBe(0o600);
      db.close();
    } finally {
      process.umask(umask);
    }
  });

  it('refuses a file that is not a database, naming it and what to do, and leaves it untouched', () => {
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'these are my notes, not a database\n'.repeat(200));
    expect(() => openDatabase(path, { busyTimeoutMs: 1000 })).toThrow(StoreError);
    expect(() => openDatabase(path, { busyTimeoutMs: 1000 })).toThrow(
      `DEVOPS_MCP_DB: ${path} is not a devops-mcp database (not SQLite at all); move it away or set DEVOPS_MCP_DB to another file`,
    );
  });

  it('refuses a schema newer than this version knows', () => {
    const path = join(dir, 'future.db');
    const future = new DatabaseSync(path);
    future.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    future.close();
    expect(() => openDatabase(path, { busyTimeoutMs: 1000 })).toThrow(
      new RegExp(
        `has schema version ${SCHEMA_VERSION + 1}, newer than this devops-mcp knows \\(${SCHEMA_VERSION}\\); upgrade devops-mcp`,
      ),
    );
  });

  it('gives up on a file locked longer than the busy timeout, saying who to stop', () => {
    const path = join(dir, 'locked.db');
    const holder = new DatabaseSync(path);
    holder.exec('BEGIN EXCLUSIVE');
    try {
      expect(() => openDatabase(path, { busyTimeoutMs: 50 })).toThrow(
        /locked.db stayed locked by another process for longer than store.busyTimeoutMs; stop the process holding it/,
      );
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
  });

  it('defaults to the XDG state directory, else ~/.local/state', () => {
    expect(defaultDbPath({ XDG_STATE_HOME: '/var/lib/me' }, '/home/me')).toBe(
      '/var/lib/me/devops-mcp/devops-mcp.db',
    );
    expect(defaultDbPath({}, '/home/me')).toBe('/home/me/.local/state/devops-mcp/devops-mcp.db');
    expect(defaultDbPath({ XDG_STATE_HOME: 'relative' }, '/home/me')).toBe(
      '/home/me/.local/state/devops-mcp/devops-mcp.db',
    );
  });
});
