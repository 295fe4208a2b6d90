// The change feed: who must hear that an incident changed. Writers in this process publish to it directly; changes
// another process made to the same file are found by a cheap poll (PRAGMA data_version, which moves only when
// another connection committed), run only while someone listens.

import type { Logger } from '../lib/logger.ts';
import { PENDING_CHANGE_ID, revisionOf, type Change, type IncidentStatus } from '../store/incidents.ts';
import type { Store } from '../store/index.ts';

export type ChangeListener = (changes: readonly Change[]) => void;

export interface ChangeFeed {
  publish(changes: readonly Change[]): void;
  /** Hears this process's changes; returns the function that stops listening. */
  subscribe(listener: ChangeListener): () => void;
  /** Also looks for other processes' changes until the returned function is called (reference-counted). */
  watch(): () => void;
  /** Looks for other processes' changes now (the timer does it every `pollMs`). */
  poll(): void;
  close(): void;
}

export function createChangeFeed(options: {
  /** The store when it is open; the feed never opens it. */
  store: () => Store | undefined;
  pollMs: number;
  logger: Logger;
}): ChangeFeed {
  const listeners = new Set<ChangeListener>();
  let watchers = 0;
  let timer: NodeJS.Timeout | undefined;
  let dataVersion: number | undefined;
  let cursor: number | undefined;
  /** The revision watching began at: a poll has told only what came after it. */
  let watchedFrom = 0;
  /** The status each incident was last told with; one not here was resolved (or not there) when watching began. */
  const known = new Map<number, IncidentStatus>();
  /**
   * While watching: the revision this process's own last write gave each incident it changed. A poll reads this
   * process's commits back with everyone else's; a row still at that revision was told already.
   */
  const published = new Map<number, number>();

  const emit = (changes: readonly Change[]) => {
    if (changes.length === 0) return;
    for (const listener of listeners) {
      try {
        listener(changes);
      } catch (error) {
        options.logger.warn({ err: error }, 'incident change listener failed');
      }
    }
  };

  function poll(): void {
    const store = options.store();
    if (!store?.db.isOpen) return;
    const version = (store.db.prepare('PRAGMA data_version').get() as { data_version: number }).data_version;
    if (cursor === undefined || dataVersion === undefined) {
      dataVersion = version;
      cursor = store.incidents.revision();
      watchedFrom = cursor;
      known.clear();
      published.clear();
      for (const row of store.incidents.openStates()) known.set(row.id, row.status);
      return;
    }
    if (version === dataVersion) return;
    dataVersion = version;
    const rows = store.incidents.changedSince(cursor);
    const changes: Change[] = [];
    for (const row of rows) {
      cursor = Math.max(cursor, row.rev);
      if (row.id === PENDING_CHANGE_ID) {
        // The pending alerts, of no incident: incident://active alone changed.
        const told = published.get(row.id) === row.rev;
        published.delete(row.id);
        if (!told) changes.push({ id: row.id });
        continue;
      }
      const before = known.get(row.id) ?? 'resolved';
      known.set(row.id, row.status);
      const told = published.get(row.id) === row.rev;
      published.delete(row.id);
      const change: Change = { id: row.id };
      if (row.status === 'resolved' && before !== 'resolved') change.closed = true;
      if (row.status !== 'resolved' && before === 'resolved') change.opened = true;
      if (told && !change.closed && !change.opened) continue;
      changes.push(change);
    }
    emit(changes);
  }

  const tick = () => {
    try {
      poll();
    } catch (error) {
      options.logger.warn({ err: error }, 'could not look for incident changes');
    }
  };

  return {
    publish(changes) {
      const news: Change[] = [];
      for (const change of changes) {
        // A poll that ran between the write and now has told it already (as another process's change).
        const rev = revisionOf(change);
        if (rev !== undefined && rev > watchedFrom && rev <= (cursor ?? 0)) continue;
        if (change.closed) known.set(change.id, 'resolved');
        else if (change.opened) known.set(change.id, 'open');
        if (cursor !== undefined && rev !== undefined) published.set(change.id, rev);
        news.push(change);
      }
      emit(news);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    watch() {
      watchers++;
      if (!timer) {
        tick();
        timer = setInterval(tick, options.pollMs);
        timer.unref();
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        watchers--;
        if (watchers === 0 && timer) {
          clearInterval(timer);
          timer = undefined;
          cursor = undefined;
          dataVersion = undefined;
        }
      };
    },
    poll: tick,
    close() {
      listeners.clear();
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
