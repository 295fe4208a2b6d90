// A minimal Prometheus registry: counters, gauges and histograms, rendered in text exposition format 0.0.4.

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const escapeHelp = text => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = value => String(value).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function formatValue(value) {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(labels) {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(value)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

/** One key per label set, whatever order the labels were given in. */
const seriesKey = labels => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));

export function createRegistry() {
  const families = [];

  /** `samples()` lists [suffix, labels, value] for the family's current series. */
  function register(name, help, type, samples) {
    families.push({ name, help, type, samples });
  }

  function labelled(initial) {
    const series = new Map();
    return {
      series,
      get(labels) {
        const key = seriesKey(labels);
        if (!series.has(key)) series.set(key, { labels, ...initial() });
        return series.get(key);
      },
    };
  }

  return {
    counter(name, help) {
      const store = labelled(() => ({ value: 0 }));
      register(name, help, 'counter', () => [...store.series.values()].map(s => ['', s.labels, s.value]));
      return {
        inc(labels = {}, by = 1) {
          store.get(labels).value += by;
        },
      };
    },

    /** A gauge or counter whose value is read at scrape time. */
    collected(name, help, type, read) {
      register(name, help, type, () => [['', {}, read()]]);
    },

    histogram(name, help, bounds) {
      const store = labelled(() => ({ counts: bounds.map(() => 0), sum: 0, count: 0 }));
      register(name, help, 'histogram', () =>
        [...store.series.values()].flatMap(({ labels, counts, sum, count }) => [
          ...bounds.map((le, i) => ['_bucket', { ...labels, le }, counts[i]]),
          ['_bucket', { ...labels, le: '+Inf' }, count],
          ['_sum', labels, sum],
          ['_count', labels, count],
        ]),
      );
      return {
        observe(labels, value) {
          const s = store.get(labels);
          // Buckets are cumulative: a value counts in every bucket whose bound it does not exceed.
          bounds.forEach((le, i) => {
            if (value <= le) s.counts[i]++;
          });
          s.sum += value;
          s.count++;
        },
      };
    },

    render() {
      const lines = [];
      for (const { name, help, type, samples } of families) {
        lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
        for (const [suffix, labels, value] of samples())
          lines.push(`${name}${suffix}${formatLabels(labels)} ${formatValue(value)}`);
      }
      return `${lines.join('\n')}\n`;
    },
  };
}
