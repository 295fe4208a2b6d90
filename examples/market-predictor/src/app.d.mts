// Types of the programmatic API, for the TypeScript suites that start the demo service.

export interface Faults {
  error_rate?: number;
  latency_ms?: number;
  stale_model?: boolean;
  memory_leak_mb_per_s?: number;
}

export interface PredictorOptions {
  host?: string;
  port?: number;
  admin?: boolean;
  faults?: Faults;
  lokiUrl?: string;
  log?: (entry: Record<string, unknown>) => void;
  window?: number;
  modelRefreshSeconds?: number;
  modelMaxAgeSeconds?: number;
  memoryLimitBytes?: number;
}

export interface RunningPredictor {
  url: string;
  port: number;
  setFaults(faults: Faults): void;
  close(): Promise<void>;
}

export function startPredictor(options?: PredictorOptions): Promise<RunningPredictor>;
export function validateFaults(input: unknown): string | undefined;
