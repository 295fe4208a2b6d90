// A small Prometheus registry: counters, gauges and histograms rendered in the text format 0.0.4.

const escape = value => String(value).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = labels => {
  const entries = Object.entries(labels);
  return entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}`;
};
const key = labels => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

export function createRegistry() {
  const families = [];

  function family(type, name, help) {
    const entry = { type, name, help, series: new Map() };
    families.push(entry);
    return entry;
  }

  return {
    counter(name, help) {
      const f = family('counter', name, help);
      return {
        inc(labels = {}, by = 1) {
          const k = key(labels);
          const s = f.series.get(k) ?? { labels, value: 0 };
          s.value += by;
          f.series.set(k, s);
        },
        get: (labels = {}) => f.series.get(key(labels))?.value ?? 0,
      };
    },
    gauge(name, help, collect) {
      const f = family('gauge', name, help);
      f.collect = collect;
      return f;
    },
    histogram(name, help, buckets) {
      const f = family('histogram', name, help);
      f.buckets = buckets;
      return {
        observe(labels, value) {
          const k = key(labels);
          const s = f.series.get(k) ?? { labels, counts: buckets.map(() => 0), sum: 0, count: 0 };
          buckets.forEach((bound, i) => {
            if (value <= bound) s.counts[i]++;
          });
          s.sum += value;
          s.count++;
          f.series.set(k, s);
        },
      };
    },
    render() {
      const lines = [];
      for (const f of families) {
        lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
        if (f.type === 'gauge') {
          for (const [labels, value] of f.collect()) lines.push(`${f.name}${labelText(labels)} ${value}`);
        } else if (f.type === 'counter') {
          for (const s of f.series.values()) lines.push(`${f.name}${labelText(s.labels)} ${s.value}`);
        } else {
          for (const s of f.series.values()) {
            f.buckets.forEach((bound, i) => {
              lines.push(`${f.name}_bucket${labelText({ ...s.labels, le: bound })} ${s.counts[i]}`);
            });
            lines.push(`${f.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
            lines.push(`${f.name}_sum${labelText(s.labels)} ${s.sum}`);
            lines.push(`${f.name}_count${labelText(s.labels)} ${s.count}`);
          }
        }
      }
      return `${lines.join('\n')}\n`;
    },
  };
}
