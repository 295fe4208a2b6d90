// Types of the programmatic API, for the TypeScript suites that start the demo service in-process.

export interface Faults {
  /** Share of /predict requests answered 500 with an error log, 0 to 1. */
  error_rate?: number;
  /** Added to every /predict request. */
  latency_ms?: number;
  /** Refreshes stop and the model reads as older than its allowed age. */
  stale_model?: boolean;
  /** Memory retained per second, until the fault is cleared. */
  memory_leak_mb_per_s?: number;
}

export interface LogEntry {
  /** RFC 3339. */
  ts: string;
  level: 'info' | 'warn' | 'error';
  msg: string;
  service: string;
  [field: string]: unknown;
}

export interface PredictorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Enables GET/POST/DELETE /admin/faults. */
  admin?: boolean;
  /** Active from the start. */
  faults?: Faults;
  /** Also ship the logs to this Loki. */
  lokiUrl?: string;
  /** Receives each log entry instead of stdout. */
  log?: (entry: LogEntry) => void;
  /** Overrides MOVING_AVERAGE_WINDOW in src/config.mjs. */
  window?: number;
  /** Overrides MODEL_REFRESH_SECONDS. */
  modelRefreshSeconds?: number;
  /** Overrides MODEL_MAX_AGE_SECONDS. */
  modelMaxAgeSeconds?: number;
  /** Overrides MEMORY_LIMIT_BYTES. */
  memoryLimitBytes?: number;
}

export interface RunningPredictor {
  /** http://host:port, without a trailing slash. */
  url: string;
  port: number;
  /** Replaces the active fault set ({} clears it); throws a TypeError on an invalid one. */
  setFaults(faults: Faults): void;
  /** Stops accepting, lets in-flight requests finish, flushes the logs. */
  close(): Promise<void>;
}

export const VERSION: string;

export function startPredictor(options?: PredictorOptions): Promise<RunningPredictor>;

/** Why `input` is not a valid fault set, or undefined when it is. */
export function validateFaults(input: unknown): string | undefined;
