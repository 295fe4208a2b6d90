// The composition root: configuration, logger, clients and clock, built once and handed to everything else.

import { secretsOf, type Config } from './config.ts';
import { createDockerClient, type DockerClient } from './clients/docker.ts';
import { createLokiClient, type LokiClient } from './clients/loki.ts';
import { createPredictorClient, type PredictorClient } from './clients/predictor.ts';
import { createPrometheusClient, type PrometheusClient } from './clients/prometheus.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { createRedactor, type Redactor } from './lib/redact.ts';
import { createReceipts, type Receipts } from './policy/receipts.ts';
import type pino from 'pino';

export interface Context {
  config: Config;
  logger: Logger;
  /** Scrubs every configured secret from a text. */
  redact: Redactor;
  /** Current unix time in seconds; replaceable in tests. */
  now(): number;
  /** Present when its backend is configured. */
  prometheus: PrometheusClient | undefined;
  loki: LokiClient | undefined;
  predictor: PredictorClient | undefined;
  /** The local Docker engine, for sandbox runs (connected on first use). */
  docker: DockerClient;
  receipts: Receipts;
  close(): Promise<void>;
}

export interface ContextOptions {
  now?: () => number;
  /** host:pid of this process, written on its sandbox containers (see clients/docker.ts). */
  owner?: string;
  logDestination?: pino.DestinationStream;
}

export function createContext(config: Config, options: ContextOptions = {}): Context {
  const redact = createRedactor(secretsOf(config));
  const logger = createLogger({ level: config.logLevel, redact, destination: options.logDestination });
  const prometheus = config.prometheus
    ? createPrometheusClient({
        url: config.prometheus.url,
        timeoutMs: config.prometheus.timeoutMs,
        maxResponseBytes: config.prometheus.maxResponseBytes,
        headers: config.prometheus.headers,
      })
    : undefined;
  const loki = config.loki
    ? createLokiClient({
        url: config.loki.url,
        timeoutMs: config.loki.timeoutMs,
        maxResponseBytes: config.loki.maxResponseBytes,
        headers: config.loki.headers,
      })
    : undefined;
  const predictor = config.predictor
    ? createPredictorClient({
        url: config.predictor.url,
        targets: config.predictor.targets,
        timeoutMs: config.predictor.timeoutMs,
      })
    : undefined;
  const now = options.now ?? (() => Date.now() / 1000);
  return {
    config,
    logger,
    redact,
    now,
    prometheus,
    loki,
    predictor,
    docker: createDockerClient({ maxConcurrent: config.sandbox.maxConcurrent, owner: options.owner }),
    receipts: createReceipts({
      key: config.sandbox.receiptKey,
      ttlSeconds: config.sandbox.receiptTtlMinutes * 60,
      now,
    }),
    async close() {
      await Promise.all([prometheus?.close(), loki?.close(), predictor?.close()]);
    },
  };
}
