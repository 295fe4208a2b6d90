// Reads a successful Prometheus-style matrix answer straight into typed columns.
//
// `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{…},"values":[[t,"v"],…]},…]}}`
// through JSON.parse makes an array, a number and a string per sample — 24,000 of each for ten minutes at 1 s
// over 40 series — and they live long enough to be promoted, which drove the server's peak memory. This reader
// walks the response bytes once, without decoding them into one large string (which V8 keeps in its
// large-object space until a full collection), and keeps two Float64Arrays per series. It accepts only what it
// fully understands: for anything else (another result type, an error, native histograms, a malformed body) it
// returns undefined and the caller takes the generic JSON.parse path, which also produces the errors.

import { parseSampleValue, type Columns } from './series.ts';

export interface MatrixSeries {
  metric: Record<string, string>;
  samples: Columns;
}

export interface MatrixAnswer {
  result: MatrixSeries[];
  warnings: string[];
  infos: string[];
}

class Unreadable extends Error {}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;

// The powers of ten a double holds exactly (written out: literals are read exactly, `10 ** k` need not be).
const EXACT_POWERS_OF_TEN = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
  1e20, 1e21, 1e22,
];
// Integers below 2^53 are exact doubles; fifteen decimal digits always are.
const MAX_EXACT_DIGITS = 15;

/**
 * `pointsPerSeries` is the most points a series can have (a range query knows it: (end − start) / step + 1). The
 * columns are sized from it only as far as the series already read bear out — most series of one answer have
 * the same length, but many short-lived series must not each reserve the whole range (20,000 one-sample series
 * over an hour at 3 s would reserve 350 MB). Columns grow by doubling; more points than expected still fit.
 */
export function readMatrixAnswer(body: Buffer, pointsPerSeries = 64): MatrixAnswer | undefined {
  try {
    return new Reader(body, pointsPerSeries).answer();
  } catch (error) {
    if (error instanceof Unreadable || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

// A cursor over the bytes; a class keeps the position in one place without a closure per value.
class Reader {
  private readonly b: Buffer;
  private readonly points: number;
  /** The length of the last series read: the first guess for the next one. */
  private lastLength = 64;
  private i = 0;
  constructor(body: Buffer, points: number) {
    this.b = body;
    this.points = Math.max(1, Math.min(Math.ceil(points), 1 << 20));
  }

  answer(): MatrixAnswer {
    const found: { success?: boolean; result?: MatrixSeries[]; warnings?: string[]; infos?: string[] } = {};
    this.object(key => {
      if (key === 'status') found.success = this.string() === 'success';
      else if (key === 'data') found.result = this.data();
      else if (key === 'warnings') found.warnings = this.stringArray();
      else if (key === 'infos') found.infos = this.stringArray();
      else this.skip();
    });
    this.ws();
    if (found.success !== true || found.result === undefined || this.i !== this.b.length)
      throw new Unreadable();
    return { result: found.result, warnings: found.warnings ?? [], infos: found.infos ?? [] };
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
    const capacity = Math.min(this.points, Math.max(16, this.lastLength));
    let t = new Float64Array(capacity);
    let v = new Float64Array(capacity);
    let n = 0;
    this.array(() => {
      this.expect(0x5b); // [
      this.ws();
      const time = this.number(this.i, this.scanNumber());
      this.expect(0x2c); // ,
      const value = this.sampleValue();
      this.expect(0x5d); // ]
      if (n === t.length) {
        // Doubling up to the expected points, and doubling past them too: growing by one would copy per sample.
        const size = n < this.points ? Math.min(n * 2, this.points) : n * 2;
        const grownT = new Float64Array(size);
        const grownV = new Float64Array(size);
        grownT.set(t);
        grownV.set(v);
        t = grownT;
        v = grownV;
      }
      t[n] = time;
      v[n] = value;
      n++;
    });
    this.lastLength = n;
    // A view keeps its whole buffer alive: copy when most of it would be wasted.
    return n < t.length / 2
      ? { t: t.slice(0, n), v: v.slice(0, n) }
      : { t: t.subarray(0, n), v: v.subarray(0, n) };
  }

  /** A sample's value, a JSON string holding a decimal, "NaN", "+Inf" or "-Inf", read without a string. */
  private sampleValue(): number {
    this.ws();
    const start = this.i;
    if (this.b[start] === QUOTE) {
      const end = this.scanNumber(start + 1);
      if (this.b[end] === QUOTE && end > start + 1) {
        const value = this.number(start + 1, end);
        this.i = end + 1;
        return value;
      }
    }
    // NaN, ±Inf, or anything unusual: as the generic path reads it.
    return parseSampleValue(this.string());
  }

  private stringArray(): string[] {
    return this.array(() => this.string());
  }

  /** Calls `member` with each key of an object, the cursor on its value. */
  private object(member: (key: string) => void): void {
    this.expect(0x7b); // {
    this.ws();
    if (this.b[this.i] === 0x7d) {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      const key = this.string();
      this.expect(0x3a); // :
      this.ws();
      member(key);
      this.ws();
      const next = this.b[this.i++];
      if (next === 0x7d) return; // }
      if (next !== 0x2c) throw new Unreadable();
    }
  }

  private array<T>(item: () => T): T[] {
    const items: T[] = [];
    this.expect(0x5b); // [
    this.ws();
    if (this.b[this.i] === 0x5d) {
      this.i++;
      return items;
    }
    for (;;) {
      this.ws();
      items.push(item());
      this.ws();
      const next = this.b[this.i++];
      if (next === 0x5d) return items; // ]
      if (next !== 0x2c) throw new Unreadable();
    }
  }

  private string(): string {
    this.expect(QUOTE);
    const start = this.i;
    let escaped = false;
    let ascii = true;
    for (;;) {
      const code = this.b[this.i++];
      if (code === undefined) throw new Unreadable();
      if (code === BACKSLASH) {
        escaped = true;
        this.i++;
      } else if (code === QUOTE) break;
      else if (code < 0x20)
        throw new Unreadable(); // control characters must be escaped in JSON
      else if (code > 0x7f) ascii = false;
    }
    const raw = this.b.toString(ascii ? 'latin1' : 'utf8', start, this.i - 1);
    return escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
  }

  /** The end of the run of number characters (digits, + - . e E) that starts at `from`. */
  private scanNumber(from = this.i): number {
    let end = from;
    for (;;) {
      const code = this.b[end];
      if (
        code !== undefined &&
        ((code >= ZERO && code <= 0x39) ||
          code === 0x2b ||
          code === MINUS ||
          code === DOT ||
          (code | 0x20) === 0x65)
      )
        end++;
      else return end;
    }
  }

  /**
   * The decimal in bytes [start, end), and moves the cursor to `end`. Clinger's fast path: when the digits form
   * an integer below 2^53 and there are at most 22 of them after the point, both the integer and the power of
   * ten are exact doubles and one IEEE division rounds correctly — to the double Number() gives. Exponents,
   * longer decimals and anything odd are handed to Number().
   */
  private number(start: number, end: number): number {
    const b = this.b;
    let i = start;
    const negative = b[i] === MINUS;
    if (negative) i++;
    let mantissa = 0;
    let digits = 0; // significant ones: leading zeros do not count
    let fraction = 0; // digits after the point
    let point = false;
    let wellFormed = i < end;
    for (; i < end; i++) {
      const code = b[i] ?? 0;
      if (code === DOT && !point) {
        point = true;
        wellFormed = i > start && i + 1 < end;
        continue;
      }
      const digit = code - ZERO;
      if (digit < 0 || digit > 9) {
        wellFormed = false; // an exponent or a stray sign: Number() decides
        break;
      }
      if (digits > 0 || digit > 0) digits++;
      mantissa = mantissa * 10 + digit;
      if (point) fraction++;
    }
    this.i = end;
    const power = EXACT_POWERS_OF_TEN[fraction];
    if (wellFormed && digits <= MAX_EXACT_DIGITS && power !== undefined) {
      const value = mantissa / power;
      return negative ? -value : value;
    }
    const value = Number(b.toString('latin1', start, end));
    if (end === start || !Number.isFinite(value)) throw new Unreadable();
    return value;
  }

  /** Steps over any JSON value, checking it with JSON.parse. */
  private skip(): void {
    const start = this.i;
    let depth = 0;
    for (;;) {
      const code = this.b[this.i];
      if (code === undefined) throw new Unreadable();
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
    JSON.parse(this.b.toString('utf8', start, this.i));
  }

  private expect(code: number): void {
    this.ws();
    if (this.b[this.i] !== code) throw new Unreadable();
    this.i++;
  }

  private ws(): void {
    while (isSpace(this.b[this.i])) this.i++;
  }
}

function isSpace(code: number | undefined): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}
