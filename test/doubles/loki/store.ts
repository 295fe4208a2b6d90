// The double's log store: streams keyed by their label set, entries kept in time order.

import { matches, type Labels, type Matcher } from './logql.ts';
import { NS } from './params.ts';

export interface Entry {
  /** Nanoseconds since the epoch. */
  ns: bigint;
  line: string;
  /** Structured metadata; {} when none was pushed. */
  metadata: Labels;
}

export interface Stream {
  labels: Labels;
  /** labelsString(labels): the stream's identity, and the order Loki sorts streams in. */
  key: string;
  entries: Entry[];
}

export interface PushStream {
  stream: Labels;
  values: Array<[string, string] | [string, string, Labels]>;
}

/** A label set with its names sorted, as Loki always writes one. */
export function sortedLabels(labels: Labels): Labels {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Prometheus' text form of a label set: {a="1", b="2"}. */
export function labelsString(labels: Labels): string {
  const pairs = Object.entries(sortedLabels(labels)).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `{${pairs.join(', ')}}`;
}

/** The hour a chunk would cover: the double's stand-in for how Loki cuts chunks. */
export function chunkOf(stream: Stream, entry: Entry): string {
  return `${stream.key}@${entry.ns / (3600n * NS)}`;
}

/** The first index whose timestamp is >= ns, in items sorted by time. */
export function lowerBound(items: ReadonlyArray<{ ns: bigint }>, ns: bigint): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((items[mid]?.ns ?? ns) < ns) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The entries with from <= ns < to. */
export function entriesBetween(stream: Stream, from: bigint, to: bigint): Entry[] {
  return stream.entries.slice(lowerBound(stream.entries, from), lowerBound(stream.entries, to));
}

export class Store {
  readonly #streams = new Map<string, Stream>();

  push(streams: readonly PushStream[]): void {
    for (const { stream, values } of streams) {
      const key = labelsString(stream);
      const target = this.#streams.get(key) ?? { labels: sortedLabels(stream), key, entries: [] };
      this.#streams.set(key, target);
      for (const [ns, line, metadata = {}] of values) {
        const at = BigInt(ns);
        const sameTime = entriesBetween(target, at, at + 1n);
        // Loki's ingester drops an entry identical (time and line) to one the stream already has.
        if (sameTime.some(e => e.line === line)) continue;
        target.entries.splice(lowerBound(target.entries, at + 1n), 0, { ns: at, line, metadata });
      }
    }
  }

  /** Streams matching every matcher (a missing label reads as ""). */
  select(matchers: readonly Matcher[]): Stream[] {
    return [...this.#streams.values()].filter(s => matchers.every(m => matches(m, s.labels[m.name] ?? '')));
  }

  clear(): void {
    this.#streams.clear();
  }
}
