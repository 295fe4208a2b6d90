// The store: one SQLite connection per process, with the incident and audit tables on it.

import type { DatabaseSync } from 'node:sqlite';
import { createAuditLog, type AuditLog } from './audit.ts';
import { openDatabase } from './db.ts';
import { createIncidentStore, type GroupingOptions, type IncidentStore } from './incidents.ts';

export interface Store {
  /** The file, or `:memory:`. */
  path: string;
  db: DatabaseSync;
  incidents: IncidentStore;
  audit: AuditLog;
  close(): void;
}

export interface StoreOptions extends GroupingOptions {
  path: string;
  busyTimeoutMs: number;
}

export function openStore(options: StoreOptions): Store {
  const db = openDatabase(options.path, { busyTimeoutMs: options.busyTimeoutMs });
  return {
    path: options.path,
    db,
    incidents: createIncidentStore(db, options),
    audit: createAuditLog(db),
    close() {
      if (db.isOpen) db.close();
    },
  };
}
