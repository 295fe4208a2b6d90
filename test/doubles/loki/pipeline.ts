// A log pipeline run over one entry, with Loki's label semantics: parsers add labels (suffixed
// "_extracted" when a stream label or structured metadata already has the name), failures become the
// __error__ and __error_details__ labels instead of dropping the line, and string label filters treat a
// missing label as "".

import { matches, type Comparison, type LabelPredicate, type Labels, type Stage } from './logql.ts';
import { parseGoDuration, parseGoFloat } from './params.ts';

const ERROR = '__error__';
const ERROR_DETAILS = '__error_details__';

export interface Processed {
  /** Stream labels, structured metadata and parsed labels together, as Loki 3 returns them. */
  labels: Labels;
  line: string;
}

type Pairs = Array<[string, string]>;

/** Loki's label-name sanitizing for parsed keys: non [a-zA-Z0-9_] become "_", a leading digit gets "_". */
function sanitize(parts: string[]): string {
  const key = parts
    .map(p => p.trim())
    .filter(p => p !== '')
    .join('_')
    .replace(/[^a-zA-Z0-9_]/g, '_');
  return /^\d/.test(key) ? `_${key}` : key;
}

function flattenJson(value: unknown, path: string[], out: Pairs): void {
  if (typeof value === 'string') out.push([sanitize(path), value]);
  else if (typeof value === 'boolean') out.push([sanitize(path), String(value)]);
  // Arrays and nulls are skipped, as Loki's json parser does; objects nest with "_".
  else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flattenJson(inner, [...path, key], out);
  }
}

/** The labels `| json` extracts, or the error Loki reports (its parser only takes an object). */
function parseJson(line: string): Pairs | Error {
  let parsed: unknown;
  try {
    // Numbers keep their text ("1.50" stays "1.50"), as Loki copies them from the line.
    parsed = JSON.parse(line, (_key, value: unknown, context?: { source?: string }) =>
      typeof value === 'number' ? (context?.source ?? String(value)) : value,
    );
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return new Error("Value looks like object, but can't find closing '}' symbol");
  }
  const out: Pairs = [];
  flattenJson(parsed, [], out);
  return out.filter(([key]) => key !== '');
}

/**
 * The labels `| logfmt` extracts, read as Loki's decoder reads them: key=value or key="quoted value"; a
 * pair with a stray quote or equals sign is skipped up to the next space, and empty values are dropped.
 */
function parseLogfmt(line: string): Pairs {
  const out: Pairs = [];
  const isSpace = (i: number) => line.charCodeAt(i) <= 32;
  const nextSpace = (from: number) => {
    let i = from;
    while (i < line.length && !isSpace(i)) i++;
    return i;
  };
  let i = 0;
  while (i < line.length) {
    if (isSpace(i)) {
      i++;
      continue;
    }
    const keyStart = i;
    while (i < line.length && !isSpace(i) && line[i] !== '=' && line[i] !== '"') i++;
    const key = line.slice(keyStart, i);
    if (line[i] !== '=' || key === '') {
      // A bare key has an empty value (dropped); a stray quote or a missing key skips the pair.
      if (line[i] === '"' || line[i] === '=') i = nextSpace(i);
      continue;
    }
    i++;
    let value: string;
    if (line[i] === '"') {
      const quoted = /"(?:[^"\\]|\\.)*"/y;
      quoted.lastIndex = i;
      const literal = quoted.exec(line)?.[0];
      if (literal === undefined) break; // unterminated: nothing after it can be read
      i += literal.length;
      try {
        value = JSON.parse(literal) as string;
      } catch {
        continue;
      }
    } else {
      const end = nextSpace(i);
      value = line.slice(i, end);
      i = end;
      if (/[="]/.test(value)) continue;
    }
    if (value !== '') out.push([sanitize([key]), value]);
  }
  return out;
}

function compare(a: number | bigint, cmp: Comparison, b: number | bigint): boolean {
  switch (cmp) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
  }
}

/** One entry going through the pipeline. */
class Entry {
  readonly base: Labels;
  readonly parsed: Labels = {};
  line: string;

  constructor(base: Labels, line: string) {
    this.base = base;
    this.line = line;
  }

  get(name: string): string | undefined {
    return this.parsed[name] ?? this.base[name];
  }

  extract(pairs: Pairs): void {
    for (const [key, value] of pairs) this.parsed[key in this.base ? `${key}_extracted` : key] = value;
  }

  fail(error: string, details: string): void {
    this.parsed[ERROR] = error;
    this.parsed[ERROR_DETAILS] = details;
  }

  test(p: LabelPredicate): boolean {
    switch (p.kind) {
      case 'and':
        return this.test(p.left) && this.test(p.right);
      case 'or':
        return this.test(p.left) || this.test(p.right);
      case 'matcher':
        return matches(p.matcher, this.get(p.matcher.name) ?? '');
      case 'number':
      case 'duration': {
        // A missing label drops the line; an unreadable one keeps it, marked (unless already marked).
        const raw = this.get(p.name);
        if (raw === undefined) return false;
        const value = p.kind === 'number' ? parseGoFloat(raw) : parseGoDuration(raw);
        if (value !== undefined) return compare(value, p.cmp, p.value);
        if (this.get(ERROR) === undefined) {
          this.fail(
            'LabelFilterErr',
            p.kind === 'number'
              ? `strconv.ParseFloat: parsing "${raw}": invalid syntax`
              : `time: invalid duration "${raw}"`,
          );
        }
        return true;
      }
    }
  }
}

/** The entry after the pipeline, or undefined when a filter drops it. */
export function runPipeline(
  stages: readonly Stage[],
  stream: Labels,
  metadata: Labels,
  line: string,
): Processed | undefined {
  const entry = new Entry({ ...stream, ...metadata }, line);
  for (const stage of stages) {
    switch (stage.kind) {
      case 'line':
        if (stage.tests.some(test => test(entry.line)) === stage.negate) return undefined;
        break;
      case 'json': {
        const result = parseJson(entry.line);
        if (result instanceof Error) entry.fail('JSONParserErr', result.message);
        else entry.extract(result);
        break;
      }
      case 'logfmt':
        entry.extract(parseLogfmt(entry.line));
        break;
      case 'label':
        if (!entry.test(stage.predicate)) return undefined;
        break;
      case 'line_format':
        entry.line = stage.parts
          .map(part =>
            typeof part === 'string' ? part : 'line' in part ? entry.line : (entry.get(part.label) ?? ''),
          )
          .join('');
        break;
    }
  }
  return { labels: { ...entry.base, ...entry.parsed }, line: entry.line };
}
