// The change feed with another process on the same file: its changes told once each, with the right flags, and this
// process's own told once, whether a poll reads them back before or after they are published.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createChangeFeed, type ChangeFeed } from '../../../src/incidents/feed.ts';
import type { Logger } from '../../../src/lib/logger.ts';
import { openStore, type Store } from '../../../src/store/index.ts';
import { PENDING_CHANGE_ID, type Change } from '../../../src/store/incidents.ts';

let dir: string;
let ours: Store;
let theirs: Store;
let feed: ChangeFeed;
let heard: Change[];
const now = 1_800_000_000;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'devops-mcp-feed-'));
  const options = {
    path: join(dir, 'devops-mcp.db'),
    busyTimeoutMs: 1000,
    groupBy: ['alertname'],
    quietSeconds: 300,
    windowSeconds: 600,
    timelineMax: 100,
  };
  ours = openStore(options);
  theirs = openStore(options);
  feed = createChangeFeed({
    store: () => ours,
    pollMs: 60_000,
    logger: { warn: () => undefined } as unknown as Logger,
  });
  heard = [];
  feed.subscribe(changes => heard.push(...changes));
});

afterEach(() => {
  feed.close();
  ours.close();
  theirs.close();
  rmSync(dir, { recursive: true, force: true });
});

const alert = (name: string) => ({
  fingerprint: name,
  labels: { alertname: name },
  annotations: {},
  state: 'firing' as const,
  startsAt: now,
  source: 'prometheus',
});
const told = () =>
  heard.map(({ id, opened, closed }) => ({
    id,
    ...(opened ? { opened } : {}),
    ...(closed ? { closed } : {}),
  }));

it("tells another process's close that lands between our write and its publishing", () => {
  feed.publish(ours.incidents.apply([alert('Down')], now));
  feed.watch();
  heard = [];
  const mine = ours.incidents.recordHealth(1, { target: 't', status: 'degraded', reasons: ['x'] }, now + 1);
  theirs.incidents.setStatus(1, 'resolved', now + 2, 'fixed elsewhere');
  feed.publish(mine);
  feed.poll();
  expect(told()).toEqual([{ id: 1 }, { id: 1, closed: true }]);
});

it('tells our own change once when a poll reads it back before it is published', () => {
  feed.publish(ours.incidents.apply([alert('One')], now));
  feed.watch();
  heard = [];
  const mine = ours.incidents.recordHealth(1, { target: 't', status: 'degraded', reasons: ['x'] }, now + 1);
  theirs.incidents.apply([alert('Two')], now + 2);
  feed.poll();
  feed.publish(mine);
  feed.poll();
  expect(told()).toEqual([{ id: 1 }, { id: 2, opened: true }]);
});

it("tells another process's change to the pending alerts once, and our own once", () => {
  const pending = { ...alert('Slow'), state: 'pending' as const };
  feed.watch();
  heard = [];
  theirs.incidents.apply([pending], now);
  feed.poll();
  expect(told()).toEqual([{ id: PENDING_CHANGE_ID }]);
  theirs.incidents.apply([pending], now + 1);
  feed.poll();
  expect(told()).toEqual([{ id: PENDING_CHANGE_ID }]);

  // A poll reads our own write back once another process writes too.
  heard = [];
  feed.publish(ours.incidents.forgetPending(['Slow']));
  theirs.incidents.apply([alert('Down')], now + 2);
  feed.poll();
  expect(told()).toEqual([{ id: PENDING_CHANGE_ID }, { id: 1, opened: true }]);
});
