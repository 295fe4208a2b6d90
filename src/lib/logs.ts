// Shaping of log lines for an LLM: grouped by stream, repeats collapsed, long lines cut, within a byte budget.

import { formatBytes } from './http.ts';
import { commonLabels, type Labels } from './shape.ts';
import { toRfc3339 } from './time.ts';

export interface LogLine {
  /** Unix seconds. */
  t: number;
  line: string;
}

export interface LineGroup {
  /** The first line of the group, with the parts that differ between its lines masked, cut to the line limit. */
  text: string;
  /** How many lines share its text once numbers, ids and times are masked. */
  count: number;
  first: string;
  last?: string;
}

export interface StreamGroup {
  labels: Labels;
  lines: number;
  groups: LineGroup[];
}

// Order matters: the specific shapes first, so that a UUID is not read as several numbers.
const MASKS: Array<[RegExp, string]> = [
  [/\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?/g, '<time>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g, '<ip>'],
  [/\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi, '<hex>'],
];
const NUMBER = /-?\b\d+(?:\.\d+)?(?:e[+-]?\d+)?/gi;

/**
 * A 1xx–5xx HTTP status where logs write one, which stays in the grouping key so that a 502 is never counted in a
 * group that shows a 200: after `HTTP/1.1"` (the common and combined log formats) or `HTTP ` (`HTTP 502`), after a
 * key ending in status or code, with or without `=`/`:` (`status=502`, `"status_code": "502"`, `code: 502`, axios's
 * `status code 503`, `returned status 502`), between bars (Gin's `| 502 |`), or as the token right after a request
 * (`GET /predict 502 in 3ms`, with or without ` HTTP/1.1`; the method in capitals, so `get /x 404 times` is no
 * request). Other bare numbers stay masked: an access log's byte count (`200 512`) would split every group. Sticky:
 * tried at a number's offset, with the text before it in the lookbehinds.
 */
const STATUS_KEYS = new RegExp(
  `(?:${[
    String.raw`HTTP\/\d(?:\.\d)?"\s*`,
    String.raw`\bHTTP\s+`,
    String.raw`(?:status|code)["']?\s*[=:]?\s*["']?`,
    String.raw`\|\s*`,
  ]
    .map(before => `(?<=${before})`)
    .join('|')})[1-5]\\d\\d(?![\\w.])`,
  'iy',
);
const STATUS_AFTER_REQUEST =
  /(?<=\b(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)\s+\/\S*(?:\s+HTTP\/\d(?:\.\d)?)?\s+)[1-5]\d\d(?![\w.])/y;

function isStatusCode(text: string, offset: number): boolean {
  STATUS_KEYS.lastIndex = offset;
  STATUS_AFTER_REQUEST.lastIndex = offset;
  return STATUS_KEYS.test(text) || STATUS_AFTER_REQUEST.test(text);
}

/** A part of a line masked by a placeholder: where the placeholder starts in the masked line, and what it hid. */
interface Slot {
  at: number;
  placeholder: string;
  value: string;
  /** The character before the match in the text the pass read ('' at the start). */
  before: string;
}

/**
 * One masking pass over `text`, whose earlier placeholders are `slots`: each match `placeholderFor` gives a
 * placeholder for is replaced by it, and the slots (old and new) are returned in order with their new positions.
 * No pattern matches a placeholder's `<` or `>`, so a match never overlaps one.
 */
function maskPass(
  text: string,
  slots: readonly Slot[],
  pattern: RegExp,
  placeholderFor: (match: string, offset: number, text: string) => string | undefined,
): { text: string; slots: Slot[] } {
  const out: Slot[] = [];
  let shift = 0;
  let next = 0;
  const masked = text.replace(pattern, (match: string, offset: number, whole: string) => {
    const placeholder = placeholderFor(match, offset, whole);
    if (placeholder === undefined) return match;
    for (; next < slots.length && (slots[next]?.at ?? 0) < offset; next++) {
      const slot = slots[next];
      if (slot) out.push({ ...slot, at: slot.at + shift });
    }
    out.push({ at: offset + shift, placeholder, value: match, before: whole[offset - 1] ?? '' });
    shift += placeholder.length - match.length;
    return placeholder;
  });
  for (; next < slots.length; next++) {
    const slot = slots[next];
    if (slot) out.push({ ...slot, at: slot.at + shift });
  }
  return { text: masked, slots: out };
}

/** The masked line (see maskLine) and what each of its placeholders hid, in order. */
function maskParts(line: string): { key: string; slots: Slot[] } {
  let state = { text: line, slots: [] as Slot[] };
  for (const [pattern, placeholder] of MASKS)
    state = maskPass(state.text, state.slots, pattern, () => placeholder);
  state = maskPass(state.text, state.slots, NUMBER, (_number, offset, text) =>
    isStatusCode(text, offset) ? undefined : '<n>',
  );
  return { key: state.text, slots: state.slots };
}

/** The line with what varies between repeats of "the same" message replaced by placeholders; status codes kept. */
export function maskLine(line: string): string {
  return maskParts(line).key;
}

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

/** The line cut to `maxChars` UTF-16 units, never between the halves of a surrogate pair. */
export function cutLine(line: string, maxChars: number): string {
  if (line.length <= maxChars) return line;
  const cut = cutIndex(line, maxChars);
  return `${line.slice(0, cut)}… [+${line.length - cut} chars]`;
}

/**
 * Where to cut `text` to at most `max` UTF-16 units: `max`, or one less where that would split a surrogate pair
 * (half a pair goes out as a lone surrogate: invalid text, and \uXXXX, 6 bytes, in JSON).
 */
export function cutIndex(text: string, max: number): number {
  const high = text.charCodeAt(max - 1);
  return high >= 0xd800 && high <= 0xdbff ? max - 1 : max;
}

/** What one placeholder of a group hid across its lines: the first line's value, or that they differ. */
interface SlotSeen {
  first: string;
  varies: boolean;
  /** For a number, the least and greatest seen, as written (without a hyphen that joins it to a word). */
  low?: string;
  high?: string;
  /** The first line's joining hyphen (see numberParts), '' without one. */
  lead: string;
}

/**
 * A masked number split into a hyphen that joins it to what comes before (`2024-01-05`, `web-17`, `retry-3`) and
 * the number itself: a hyphen after a word character or a point is no minus sign. The grouping key masks both as
 * one; only the range shown tells them apart.
 */
function numberParts(slot: Slot): { lead: string; number: string } {
  return slot.value.startsWith('-') && /[\w.]/.test(slot.before)
    ? { lead: '-', number: slot.value.slice(1) }
    : { lead: '', number: slot.value };
}

/**
 * Collapses repeats within one stream, keeping the order in which each message first appears. A group's text is
 * its first line, except where its lines differ: there the placeholder, and for a number its range (`<100..803>`),
 * so that no value of one line reads as if every line held it.
 */
export function collapse(lines: readonly LogLine[], maxChars: number): LineGroup[] {
  const groups = new Map<
    string,
    { first: string; slots: SlotSeen[]; count: number; min: number; max: number }
  >();
  for (const { t, line } of lines) {
    const { key, slots } = maskParts(line);
    const group = groups.get(key);
    if (!group) {
      const seen = slots.map(s => {
        const { lead, number } = numberParts(s);
        return {
          first: s.value,
          varies: false,
          lead,
          ...(s.placeholder === '<n>' ? { low: number, high: number } : {}),
        };
      });
      groups.set(key, { first: line, slots: seen, count: 1, min: t, max: t });
      continue;
    }
    group.count++;
    group.min = Math.min(group.min, t);
    group.max = Math.max(group.max, t);
    // Lines of one group have the same placeholders in the same order.
    slots.forEach((slot, i) => {
      const seen = group.slots[i];
      if (!seen || slot.value === seen.first) return;
      seen.varies = true;
      const { lead, number } = numberParts(slot);
      // A hyphen that joins in one line and not in another (`a.-5`, `a.5`): no one range describes both.
      if (lead !== seen.lead) {
        delete seen.low;
        delete seen.high;
      }
      if (seen.low !== undefined && Number(number) < Number(seen.low)) seen.low = number;
      if (seen.high !== undefined && Number(number) > Number(seen.high)) seen.high = number;
    });
  }
  return [...groups.entries()].map(([key, g]) => ({
    text: cutLine(g.slots.some(s => s.varies) ? template(key, g.first, g.slots) : g.first, maxChars),
    count: g.count,
    first: toRfc3339(g.min),
    ...(g.count > 1 ? { last: toRfc3339(g.max) } : {}),
  }));
}

/** The group's masked line with the parts its lines share written back, and a range for each number that varies. */
function template(key: string, first: string, seen: readonly SlotSeen[]): string {
  const { slots } = maskParts(first);
  let text = '';
  let from = 0;
  slots.forEach((slot, i) => {
    const s = seen[i];
    // Numbers that differ only as written (`007` and `7`) have no range to show: the placeholder says they differ.
    const shown = !s?.varies
      ? slot.value
      : s.low !== undefined && s.high !== undefined && s.low !== s.high
        ? `${s.lead}<${s.low}..${s.high}>`
        : slot.placeholder;
    text += key.slice(from, slot.at) + shown;
    from = slot.at + slot.placeholder.length;
  });
  return text + key.slice(from);
}

export interface ShapedLogs {
  common_labels?: Labels;
  streams: StreamGroup[];
  groups_total: number;
  groups_shown: number;
  truncated: boolean;
  note?: string;
}

const ENVELOPE_RESERVE = 600;
/** Characters of a label's name or value shown: a label can be as long as a line, and is repeated per stream. */
export const MAX_LABEL_CHARS = 200;

/** The labels with each name and value cut to `maxChars` (see cutLine). */
export function cutLabels(labels: Labels, maxChars: number): Labels {
  return Object.fromEntries(
    Object.entries(labels).map(([name, value]) => [cutLine(name, maxChars), cutLine(value, maxChars)]),
  );
}

/**
 * Streams of lines → collapsed groups that fit `maxBytes` bytes of UTF-8 (with the `baseBytes` the caller's base
 * result takes): counted in bytes, since a line of CJK or emoji is up to three times its length.
 */
export function shapeLogs(
  streams: ReadonlyArray<{ labels: Labels; lines: LogLine[] }>,
  options: { maxBytes: number; maxLineChars: number; baseBytes: number },
): ShapedLogs {
  const room = options.maxBytes - options.baseBytes - ENVELOPE_RESERVE;
  const shared = commonLabels(streams.map(s => s.labels));
  // The labels every stream shares may take half the room at most, so that some lines are always shown; those
  // past it are left out (and said to be), not repeated in every stream.
  const common: Labels = {};
  let commonLeft = 0;
  for (const [name, value] of Object.entries(cutLabels(shared, MAX_LABEL_CHARS))) {
    if (bytes({ ...common, [name]: value }) <= room / 2) common[name] = value;
    else commonLeft++;
  }
  const budget = room - bytes(common);
  const collapsed = streams.map(s => ({
    labels: cutLabels(
      Object.fromEntries(Object.entries(s.labels).filter(([k, v]) => shared[k] !== v)),
      MAX_LABEL_CHARS,
    ),
    lines: s.lines.length,
    groups: collapse(s.lines, options.maxLineChars),
  }));
  const total = collapsed.reduce((sum, s) => sum + s.groups.length, 0);
  // Give every stream its turn: take groups round-robin until the budget is spent. A stream's labels are paid for
  // with its first group taken: a stream with none is not shown, and its labels must not take the room of others.
  const kept = collapsed.map(s => ({ ...s, groups: [] as LineGroup[] }));
  let used = 0;
  let shown = 0;
  for (let round = 0, added = true; added; round++) {
    added = false;
    for (const [i, stream] of collapsed.entries()) {
      const group = stream.groups[round];
      const into = kept[i];
      if (!group || !into) continue;
      const size = bytes(group) + 1 + (into.groups.length === 0 ? bytes(into) + 1 : 0);
      if (used + size > budget) continue;
      into.groups.push(group);
      used += size;
      shown++;
      added = true;
    }
  }
  const visible = kept.filter(s => s.groups.length > 0);
  const shaped: ShapedLogs = {
    streams: visible,
    groups_total: total,
    groups_shown: shown,
    truncated: shown < total || commonLeft > 0,
  };
  if (Object.keys(common).length > 0) shaped.common_labels = common;
  const notes = [
    ...(shown < total
      ? [
          `Showing ${shown} of ${total} distinct messages to fit ${formatBytes(options.maxBytes)}. Narrow with a line filter (|= "error"), a tighter selector, or a shorter range.`,
        ]
      : []),
    ...(commonLeft > 0 ? [`${commonLeft} labels all streams share are left out to fit.`] : []),
  ];
  if (notes.length > 0) shaped.note = notes.join(' ');
  return shaped;
}
