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

  // 2: the headless loop's side: the pause flag, investigations (with their transcripts), outcomes of the PRs,
  // sliding-window counters, and a full-text index of incidents for finding similar ones.
  //
  // Similarity is SQLite's FTS5 (Node's bundled SQLite is built with it), ranked by bm25 with weights per column:
  // alert names, then group label values, diagnoses, then title and findings. Triggers keep the index in step with
  // every writer, and the rows already in a version-1 file are indexed here. bm25 costs rows matched × terms, so
  // `similar` picks its terms against a budget of rows (store/agent.ts). Measured with 10,000 incidents
  // (bench/similar.ts): median ~2 ms, slowest ~5 ms — no hand-made similarity is needed.
  `
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

  CREATE TABLE investigations (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    mode TEXT NOT NULL CHECK (mode IN ('observe', 'propose', 'autonomous')),
    started_at REAL NOT NULL,
    ended_at REAL,
    -- JSON: the checked diagnosis and its flags; the transcript (messages, tool calls, tokens, durations).
    diagnosis TEXT,
    flags TEXT NOT NULL DEFAULT '[]',
    tokens INTEGER NOT NULL DEFAULT 0,
    model_calls INTEGER NOT NULL DEFAULT 0,
    tool_calls INTEGER NOT NULL DEFAULT 0,
    budget_hit TEXT,
    transcript TEXT
  ) STRICT;
  CREATE INDEX investigations_by_incident ON investigations (incident_id, id);

  -- What came of a pull request made for an incident; one row per PR, its latest outcome.
  CREATE TABLE outcomes (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    repo TEXT NOT NULL,
    pr_number INTEGER NOT NULL,
    pr_url TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'resolved_after_change', 'not_resolved', 'pr_closed_unmerged')),
    at REAL NOT NULL,
    PRIMARY KEY (incident_id, repo, pr_number)
  ) STRICT;

  -- One row per slot taken of a sliding-window counter (investigations per hour, PRs per hour, cooldowns).
  CREATE TABLE counter_hits (
    id INTEGER PRIMARY KEY,
    counter TEXT NOT NULL,
    at REAL NOT NULL
  ) STRICT;
  CREATE INDEX counter_hits_by_counter ON counter_hits (counter, at);

  -- rowid = the incident's id.
  CREATE VIRTUAL TABLE incident_text USING fts5 (alerts, labels, title, findings, diagnosis, tokenize = 'unicode61');

  CREATE TRIGGER incident_text_new AFTER INSERT ON incidents BEGIN
    INSERT INTO incident_text (rowid, alerts, labels, title, findings, diagnosis)
    VALUES (new.id, '', (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.group_labels)), new.title, '', '');
  END;
  -- Each update rewrites the incident's row in the index, so the rows stay short: the first alert names (up to
  -- ~1,000 characters) and findings (~4,000) are what is searched.
  CREATE TRIGGER incident_text_alert AFTER INSERT ON alerts BEGIN
    UPDATE incident_text SET alerts = trim(alerts || ' ' || new.name)
    WHERE rowid = new.incident_id AND length(alerts) < 1000 AND instr(' ' || alerts || ' ', ' ' || new.name || ' ') = 0;
  END;
  -- Findings are kept in the index after the timeline drops them.
  CREATE TRIGGER incident_text_finding AFTER INSERT ON events WHEN new.kind = 'finding' BEGIN
    UPDATE incident_text SET findings = trim(findings || ' ' || substr(new.summary, 1, 1000))
    WHERE rowid = new.incident_id AND length(findings) < 4000;
  END;

  INSERT INTO incident_text (rowid, alerts, labels, title, findings, diagnosis)
  SELECT i.id,
    coalesce((SELECT group_concat(name, ' ') FROM (SELECT DISTINCT name FROM alerts WHERE incident_id = i.id)), ''),
    (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(i.group_labels)),
    i.title,
    coalesce((SELECT group_concat(substr(summary, 1, 1000), ' ') FROM events WHERE incident_id = i.id AND kind = 'finding'), ''),
    ''
  FROM incidents i;
  `,

  // 3: who runs an investigation (host:pid), so that one left unfinished by a process that died (killed, crashed,
  // a second signal) is closed by the next loop instead of keeping its incident from ever being taken up again;
  // and when the learn step last asked GitHub about a pending PR, so that it asks at most every few minutes.
  `
  ALTER TABLE investigations ADD COLUMN owner TEXT;
  ALTER TABLE outcomes ADD COLUMN checked_at REAL;
  `,

  // 4: a PR's head branch, by which the learn step asks GitHub whether a person closed it: a PR the model opened
  // itself has a branch of its own choosing. Rows from before it have none (the loop's own incident-<id> branch).
  `
  ALTER TABLE outcomes ADD COLUMN branch TEXT;
  `,

  // 5: which Prometheus last reported a firing alert (its URL, without credentials) and the activeAt it reported:
  // a watcher resolves only the alerts its own Prometheus stopped reporting, webhook-first ones included, and tells
  // a new episode from the same one. Polled rows from before it have none, and are any watcher's to resolve (there
  // was one Prometheus then). The revision of the last change to the pending alerts, which incident://active shows:
  // other processes hear of it as they hear of an incident's. How many resolved alerts an incident no longer keeps
  // (past the newest RESOLVED_ALERTS_KEPT), as events_dropped counts its timeline.
  `
  ALTER TABLE incidents ADD COLUMN alerts_dropped INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE alerts ADD COLUMN polled_by TEXT;
  ALTER TABLE alerts ADD COLUMN polled_start REAL;
  INSERT INTO meta (key, value) VALUES ('pending_rev', 0);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
