// A parser for the Prometheus text exposition format (0.0.4), enough to read a service's own /metrics.

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/**
 * A sample value as Go's strconv.ParseFloat reads it, which Prometheus's parsers use: Inf and Infinity (signed)
 * and NaN in any case; undefined when it is not a number.
 */
function parseValue(text: string): number | undefined {
  const special = /^([+-]?)(?:inf|infinity)$|^nan$/i.exec(text);
  if (special) {
    if (special[1] === undefined) return Number.NaN;
    return special[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  const value = Number(text);
  return text === '' || Number.isNaN(value) ? undefined : value;
}

/** Samples of the exposition; lines it cannot read are skipped, as a scraper would report, not crash. */
export function parseExposition(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const name = NAME.exec(line)?.[0];
    if (name === undefined) continue;
    let rest = line.slice(name.length);
    // Blanks may separate the name from its labels (`name {code="500"} 1`), as promtool accepts.
    if (!/^[\s{]/.test(rest)) continue;
    rest = rest.trimStart();
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      const parsed = parseLabels(rest);
      if (!parsed) continue;
      Object.assign(labels, parsed.labels);
      rest = rest.slice(parsed.length);
    }
    // A sample without a value (`y_total`) is a line the scraper could not read, not a zero.
    const value = parseValue(rest.trim().split(/\s+/)[0] ?? '');
    if (value === undefined) continue;
    samples.push({ name, labels, value });
  }
  return samples;
}

function parseLabels(text: string): { labels: Record<string, string>; length: number } | undefined {
  const labels: Record<string, string> = {};
  let i = 1;
  while (i < text.length) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, length: i + 1 };
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i))?.[0];
    if (name === undefined || text[i + name.length] !== '=' || text[i + name.length + 1] !== '"')
      return undefined;
    i += name.length + 2;
    let value = '';
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') {
        const next = text[i + 1];
        value += next === 'n' ? '\n' : (next ?? '');
        i += 2;
      } else {
        value += text.charAt(i);
        i++;
      }
    }
    if (text[i] !== '"') return undefined;
    labels[name] = value;
    i++;
  }
  return undefined;
}

/**
 * The q-quantile of a cumulative histogram's buckets ([upper bound, count] sorted by bound), interpolated
 * linearly within the bucket as Prometheus's histogram_quantile does. undefined without observations.
 */
export function histogramQuantile(
  q: number,
  buckets: ReadonlyArray<readonly [number, number]>,
): number | undefined {
  const sorted = buckets.toSorted((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let previousBound = 0;
  let previousCount = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return previousBound;
      const inBucket = count - previousCount;
      return inBucket === 0
        ? bound
        : previousBound + ((bound - previousBound) * (rank - previousCount)) / inBucket;
    }
    previousBound = bound;
    previousCount = count;
  }
  return previousBound;
}
