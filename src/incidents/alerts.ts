// Alerts as devops-mcp keeps them, whichever source they came from, and how they are keyed and ranked.

export type Labels = Record<string, string>;

export interface AlertInput {
  fingerprint: string;
  labels: Labels;
  annotations: Labels;
  state: 'pending' | 'firing' | 'resolved';
  /** Unix seconds. */
  startsAt: number;
  endsAt?: number | undefined;
  generatorURL?: string | undefined;
  /** Where it came from: `prometheus` (polled) or `alertmanager` (webhook). */
  source: string;
  /**
   * Of a polled alert: the Prometheus that reported it (its URL, without credentials) and when that Prometheus
   * started (Unix seconds; undefined when it did not say). Several watchers may share one store, each on its own
   * Prometheus.
   */
  polled?: { by: string; upSince: number | undefined } | undefined;
}

/**
 * The source of webhook alerts. Alertmanager says "resolved" once but re-sends a firing alert every
 * `repeat_interval`, so one not seen for `incidents.webhookAlertExpirySeconds` expires (intake.ts).
 */
export const ALERTMANAGER_SOURCE = 'alertmanager';

/** The source of polled alerts, whichever Prometheus reported them (AlertInput.polled says which). */
export const PROMETHEUS_SOURCE = 'prometheus';

/**
 * The labels without those named: `incidents.externalLabels`, which Prometheus adds to the alerts it sends to
 * Alertmanager but not to those /api/v1/alerts reports, so with them one alert would have two fingerprints.
 */
export function withoutLabels(labels: Labels, names: readonly string[]): Labels {
  if (!names.some(name => Object.hasOwn(labels, name))) return labels;
  return Object.fromEntries(Object.entries(labels).filter(([name]) => !names.includes(name)));
}

// FNV-1a, 64 bit, over sorted label names and values each followed by 0xff: the fingerprint Prometheus and
// Alertmanager compute (prometheus/common model.LabelSet.Fingerprint), so a polled alert and the same alert
// arriving through Alertmanager's webhook are one alert here, once `withoutLabels` has dropped the external labels.
const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

export function fingerprintOf(labels: Labels): string {
  let hash = FNV_OFFSET;
  const add = (byte: number) => {
    hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & MASK;
  };
  for (const name of Object.keys(labels).sort()) {
    for (const byte of Buffer.from(name, 'utf8')) add(byte);
    add(0xff);
    for (const byte of Buffer.from(labels[name] ?? '', 'utf8')) add(byte);
    add(0xff);
  }
  return hash.toString(16).padStart(16, '0');
}

export interface GroupKey {
  /** `label=value`: what the one-open-incident-per-group index is on. */
  key: string;
  labels: Labels;
}

/** The group of an alert: the first of `groupBy` it carries; an alert with none of them groups by its name. */
export function groupOf(labels: Labels, groupBy: readonly string[]): GroupKey {
  for (const name of groupBy) {
    const value = labels[name];
    if (value !== undefined && value !== '') return { key: `${name}=${value}`, labels: { [name]: value } };
  }
  const alertname = labels.alertname ?? '';
  return { key: `alertname=${alertname}`, labels: { alertname } };
}

const SEVERITY_RANK: Record<string, number> = {
  critical: 6,
  page: 6,
  emergency: 6,
  error: 5,
  high: 5,
  major: 5,
  warning: 4,
  warn: 4,
  medium: 4,
  minor: 3,
  low: 3,
  info: 2,
  informational: 2,
  none: 0,
};

/** critical > error > warning > info; an unknown value ranks just above none. */
export function severityRank(severity: string | undefined): number {
  if (severity === undefined || severity === '') return 0;
  return SEVERITY_RANK[severity.toLowerCase()] ?? 1;
}

export function highestSeverity(severities: ReadonlyArray<string | undefined>): string {
  let best: string | undefined;
  for (const severity of severities) {
    if (severity !== undefined && severityRank(severity) > severityRank(best)) best = severity;
  }
  return best ?? 'none';
}
