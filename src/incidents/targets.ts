// Which configured predictor target an alert points at: an `instance` label that is a target's host:port, or a
// `target` label naming one. The watcher probes those targets for an incident; the investigate prompt names them.

import { DEFAULT_TARGET } from '../clients/predictor.ts';
import type { Config } from '../config.ts';

export interface TargetMatcher {
  /** Every configured target, `default` first. */
  names: string[];
  /** The target an alert's labels point at, if any. */
  of(labels: Readonly<Record<string, string>>): string | undefined;
}

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

export function targetMatcher(settings: Config['predictor']): TargetMatcher {
  const byKey = new Map<string, string>();
  if (settings) {
    for (const [name, url] of [
      [DEFAULT_TARGET, settings.url],
      ...Object.entries(settings.targets),
    ] as const) {
      // Prometheus's instance label always carries the port (10.0.0.5:80), where a URL's host drops a default one.
      const parsed = new URL(url);
      const port = parsed.port || DEFAULT_PORTS[parsed.protocol];
      if (port) byKey.set(`${parsed.hostname}:${port}`, name);
      byKey.set(parsed.host, name);
      byKey.set(name, name);
    }
  }
  return {
    names: [...new Set(byKey.values())],
    of: labels => byKey.get(labels.instance ?? '') ?? byKey.get(labels.target ?? ''),
  };
}
