// The store's schema, as an ordered list of migrations. `PRAGMA user_version` is the number applied.
//
// Append only: a released migration is never edited, a change is a new entry.

export const MIGRATIONS: readonly string[] = [
  // 1: incidents, their alerts and timelines, the audit log.
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
  INSERT INTO meta (key, value) VALUES ('rev', 0);

  CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    group_key TEXT NOT NULL,
    group_labels TEXT NOT NULL,
    title TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    resolved_at REAL,
    -- Set while every alert has resolved and the flap guard's quiet period runs.
    quiet_since REAL,
    -- Events in the timeline now, and those dropped past incidents.timelineMax.
    events_kept INTEGER NOT NULL DEFAULT 0,
    events_dropped INTEGER NOT NULL DEFAULT 0,
    -- The store-wide revision of the last change, for other processes to find what changed.
    rev INTEGER NOT NULL
  ) STRICT;
  -- One incident that is not resolved per group, whoever writes: two watchers on one file cannot make two.
  CREATE UNIQUE INDEX incidents_one_open ON incidents (group_key) WHERE status <> 'resolved';
  CREATE INDEX incidents_by_status ON incidents (status, id);
  CREATE INDEX incidents_by_group ON incidents (group_key, id);
  CREATE INDEX incidents_by_rev ON incidents (rev);

  CREATE TABLE alerts (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    fingerprint TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    severity TEXT,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    generator_url TEXT,
    source TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (incident_id, fingerprint)
  ) STRICT;
  CREATE INDEX alerts_firing ON alerts (state, source) WHERE state = 'firing';

  -- Alerts Prometheus reports as pending: noted, no incident yet.
  CREATE TABLE pending_alerts (
    fingerprint TEXT PRIMARY KEY,
    group_key TEXT NOT NULL,
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL
  ) STRICT;

  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    data TEXT
  ) STRICT;
  CREATE INDEX events_by_incident ON events (incident_id, id);

  CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    tool TEXT NOT NULL,
    client TEXT,
    session TEXT,
    args TEXT NOT NULL,
    outcome TEXT NOT NULL,
    code TEXT,
    ms REAL NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  ) STRICT;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
