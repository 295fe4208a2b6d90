// A scrape target the tests control: serves whatever gauges they set, in the Prometheus text format.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetricsTarget {
  /** host:port, as a Prometheus static target. */
  address: string;
  set(name: string, labels: Record<string, string>, value: number): void;
  close(): Promise<void>;
}

export async function startMetricsTarget(): Promise<MetricsTarget> {
  const series = new Map<string, { name: string; labels: Record<string, string>; value: number }>();
  const server: Server = createServer((_req, res) => {
    const names = new Set([...series.values()].map(s => s.name));
    const lines: string[] = [];
    for (const name of names) {
      lines.push(`# TYPE ${name} gauge`);
      for (const s of series.values()) {
        if (s.name !== name) continue;
        const labels = Object.entries(s.labels)
          .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)
          .join(',');
        lines.push(`${name}${labels ? `{${labels}}` : ''} ${s.value}`);
      }
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`${lines.join('\n')}\n`);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    set(name, labels, value) {
      series.set(`${name}${JSON.stringify(labels)}`, { name, labels, value });
    },
    close: () =>
      new Promise(resolve => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
