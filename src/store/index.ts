// The store: one SQLite connection per process, with the incident, audit and headless-loop tables on it.

import type { DatabaseSync } from 'node:sqlite';
import { createAgentStore, type AgentStore, type AgentStoreOptions } from './agent.ts';
import { createAuditLog, type AuditLog } from './audit.ts';
import { openDatabase } from './db.ts';
import { createIncidentStore, type GroupingOptions, type IncidentStore } from './incidents.ts';

export interface Store {
  /** The file, or `:memory:`. */
  path: string;
  db: DatabaseSync;
  incidents: IncidentStore;
  audit: AuditLog;
  /** The headless loop's side: kill switch, investigations, outcomes, counters, similar incidents. */
  agent: AgentStore;
  close(): void;
}

export interface StoreOptions extends GroupingOptions, AgentStoreOptions {
  path: string;
  busyTimeoutMs: number;
}

export function openStore(options: StoreOptions): Store {
  const db = openDatabase(options.path, { busyTimeoutMs: options.busyTimeoutMs });
  const incidents = createIncidentStore(db, options);
  return {
    path: options.path,
    db,
    incidents,
    audit: createAuditLog(db, options.path === ':memory:' ? undefined : `${options.path}.audit-head`),
    agent: createAgentStore(db, incidents, { redact: options.redact, onChange: options.onChange }),
    close() {
      if (db.isOpen) db.close();
    },
  };
}
