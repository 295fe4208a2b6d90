// Reads a successful Prometheus-style matrix answer straight into typed columns.
//
// `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{…},"values":[[t,"v"],…]},…]}}`
// through JSON.parse makes an array, a number and a string per sample — 24,000 of each for ten minutes at 1 s
// over 40 series — and they live long enough to be promoted, which drove the server's peak memory. This reader
// walks the text once and keeps two Float64Arrays per series. It accepts only what it fully understands: for
// anything else (another result type, an error, native histograms, a malformed body) it returns undefined and
// the caller takes the generic JSON.parse path, which also produces the errors.

import { parseSampleValue, type Columns } from './series.ts';

export interface MatrixSeries {
  metric: Record<string, string>;
  samples: Columns;
}

export interface MatrixAnswer {
  result: MatrixSeries[];
  warnings: string[];
}

class Unreadable extends Error {}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * `pointsPerSeries` sizes each series' columns up front (a range query knows it: (end − start) / step + 1), so
 * that no column is grown and copied; more points than that still fit.
 */
export function readMatrixAnswer(text: string, pointsPerSeries = 64): MatrixAnswer | undefined {
  try {
    return new Reader(text, pointsPerSeries).answer();
  } catch (error) {
    if (error instanceof Unreadable || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

// A cursor over the text; a class keeps the position in one place without a closure per value.
class Reader {
  private readonly s: string;
  private readonly capacity: number;
  private i = 0;
  constructor(text: string, capacity: number) {
    this.s = text;
    this.capacity = Math.max(1, Math.min(Math.ceil(capacity), 1 << 20));
  }

  answer(): MatrixAnswer {
    const found: { success?: boolean; result?: MatrixSeries[]; warnings?: string[] } = {};
    this.object(key => {
      if (key === 'status') found.success = this.string() === 'success';
      else if (key === 'data') found.result = this.data();
      else if (key === 'warnings') found.warnings = this.stringArray();
      else this.skip();
    });
    this.ws();
    if (found.success !== true || found.result === undefined || this.i !== this.s.length)
      throw new Unreadable();
    return { result: found.result, warnings: found.warnings ?? [] };
  }

  private data(): MatrixSeries[] {
    const found: { matrix?: boolean; result?: MatrixSeries[] } = {};
    this.object(key => {
      if (key === 'resultType') found.matrix = this.string() === 'matrix';
      else if (key === 'result') found.result = this.array(() => this.series());
      else this.skip();
    });
    if (found.matrix !== true || found.result === undefined) throw new Unreadable();
    return found.result;
  }

  private series(): MatrixSeries {
    const found: { metric?: Record<string, string>; samples?: Columns } = {};
    this.object(key => {
      if (key === 'metric') found.metric = this.labels();
      else if (key === 'values') found.samples = this.samples();
      else throw new Unreadable(); // "histograms" and anything newer: the generic path decides
    });
    if (found.metric === undefined || found.samples === undefined) throw new Unreadable();
    return { metric: found.metric, samples: found.samples };
  }

  private labels(): Record<string, string> {
    const labels: Record<string, string> = {};
    this.object(key => {
      labels[key] = this.string();
    });
    return labels;
  }

  private samples(): Columns {
    let t = new Float64Array(this.capacity);
    let v = new Float64Array(this.capacity);
    let n = 0;
    this.array(() => {
      this.expect(0x5b); // [
      const time = this.number();
      this.expect(0x2c); // ,
      const value = parseSampleValue(this.string());
      this.expect(0x5d); // ]
      if (n === t.length) {
        const grownT = new Float64Array(n * 2);
        const grownV = new Float64Array(n * 2);
        grownT.set(t);
        grownV.set(v);
        t = grownT;
        v = grownV;
      }
      t[n] = time;
      v[n] = value;
      n++;
    });
    return { t: t.subarray(0, n), v: v.subarray(0, n) };
  }

  private stringArray(): string[] {
    return this.array(() => this.string());
  }

  /** Calls `member` with each key of an object, the cursor on its value. */
  private object(member: (key: string) => void): void {
    this.expect(0x7b); // {
    this.ws();
    if (this.peek() === 0x7d) {
      this.i++;
      return;
    }
    for (;;) {
      const key = this.string();
      this.expect(0x3a); // :
      this.ws();
      member(key);
      this.ws();
      const next = this.s.charCodeAt(this.i++);
      if (next === 0x7d) return; // }
      if (next !== 0x2c) throw new Unreadable();
    }
  }

  private array<T>(item: () => T): T[] {
    const items: T[] = [];
    this.expect(0x5b); // [
    this.ws();
    if (this.peek() === 0x5d) {
      this.i++;
      return items;
    }
    for (;;) {
      this.ws();
      items.push(item());
      this.ws();
      const next = this.s.charCodeAt(this.i++);
      if (next === 0x5d) return items; // ]
      if (next !== 0x2c) throw new Unreadable();
    }
  }

  private string(): string {
    this.expect(QUOTE);
    const start = this.i;
    let escaped = false;
    for (;;) {
      const code = this.s.charCodeAt(this.i++);
      if (Number.isNaN(code)) throw new Unreadable();
      if (code === BACKSLASH) {
        escaped = true;
        this.i++;
      } else if (code === QUOTE) break;
    }
    const raw = this.s.slice(start, this.i - 1);
    return escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
  }

  private number(): number {
    this.ws();
    const start = this.i;
    for (;;) {
      const code = this.s.charCodeAt(this.i);
      // digits, + - . e E
      if (
        (code >= 0x30 && code <= 0x39) ||
        code === 0x2b ||
        code === 0x2d ||
        code === 0x2e ||
        (code | 0x20) === 0x65
      )
        this.i++;
      else break;
    }
    const value = Number(this.s.slice(start, this.i));
    if (this.i === start || !Number.isFinite(value)) throw new Unreadable();
    return value;
  }

  /** Steps over any JSON value, checking it with JSON.parse. */
  private skip(): void {
    const start = this.i;
    let depth = 0;
    for (;;) {
      const code = this.s.charCodeAt(this.i);
      if (Number.isNaN(code)) throw new Unreadable();
      if (code === QUOTE) {
        this.string();
        if (depth === 0) break;
        continue;
      }
      if (code === 0x7b || code === 0x5b) depth++;
      else if (code === 0x7d || code === 0x5d) {
        if (depth === 0) break;
        depth--;
        if (depth === 0) {
          this.i++;
          break;
        }
      } else if (depth === 0 && (code === 0x2c || isSpace(code))) break;
      this.i++;
    }
    JSON.parse(this.s.slice(start, this.i));
  }

  private expect(code: number): void {
    this.ws();
    if (this.s.charCodeAt(this.i) !== code) throw new Unreadable();
    this.i++;
  }

  private peek(): number {
    return this.s.charCodeAt(this.i);
  }

  private ws(): void {
    while (isSpace(this.s.charCodeAt(this.i))) this.i++;
  }
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}
