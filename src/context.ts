// The composition root: configuration, logger, clients and clock, built once and handed to everything else.

import { secretsOf, type Config } from './config.ts';
import { createDockerClient, type DockerClient } from './clients/docker.ts';
import { createGithubClient, type GithubClient } from './clients/github.ts';
import { createLokiClient, type LokiClient } from './clients/loki.ts';
import { createPredictorClient, type PredictorClient } from './clients/predictor.ts';
import { createPrometheusClient, type PrometheusClient } from './clients/prometheus.ts';
import { createLogger, type Logger } from './lib/logger.ts';
import { processOwner } from './lib/owner.ts';
import { createRedactor, type Redactor } from './lib/redact.ts';
import { createStorePrQuota, type PrQuota } from './policy/pr-quota.ts';
import { createReceipts, type Receipts } from './policy/receipts.ts';
import { createChangeFeed, type ChangeFeed } from './incidents/feed.ts';
import type { Store } from './store/index.ts';
import { createAuditRecorder, type AuditRecorder } from './store/recorder.ts';
import type pino from 'pino';

export interface Context {
  config: Config;
  logger: Logger;
  /** Scrubs every configured secret from a text. */
  redact: Redactor;
  /** Current unix time in seconds; replaceable in tests. */
  now(): number;
  /** host:pid of this process, written on what it leaves in the store while working (see lib/owner.ts). */
  owner: string;
  /** Present when its backend is configured. */
  prometheus: PrometheusClient | undefined;
  loki: LokiClient | undefined;
  predictor: PredictorClient | undefined;
  /** Present when GITHUB_TOKEN is set (Octokit loads on first use). */
  github: GithubClient | undefined;
  /** PRs opened per repository in the last hour (open_pr's pacing), counted in the store across processes. */
  prQuota: PrQuota;
  /** The local Docker engine, for sandbox runs (connected on first use). */
  docker: DockerClient;
  receipts: Receipts;
  /** The SQLite store (incidents, audit log), opened on first use: a plain `serve` starts without it. */
  store(): Promise<Store>;
  /** Incident changes for this process's subscribers, including those other processes made to the same file. */
  changes: ChangeFeed;
  /** Every tool call's audit row (written right after the result is sent). */
  audit: AuditRecorder;
  close(): Promise<void>;
}

export interface ContextOptions {
  /** The store file when `store.path` is unset (the CLI passes the state-directory default); else `:memory:`. */
  dbPath?: string;
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
  const githubLog = logger.child({ backend: 'github' });
  const github = config.github.token
    ? createGithubClient({
        token: config.github.token,
        apiUrl: config.github.apiUrl,
        timeoutMs: config.github.timeoutMs,
        writeSpacingMs: config.github.writeSpacingMs,
        now,
        log: {
          debug: msg => {
            githubLog.debug(msg);
          },
          warn: msg => {
            githubLog.warn(msg);
          },
          error: msg => {
            githubLog.error(msg);
          },
        },
      })
    : undefined;
  // The store opens on first use (an audit row, a resource read, an intake), not at start: opening and migrating
  // a file costs ~15 ms, and `serve`'s cold start is benchmarked. `serve` still opens it right after the
  // handshake, so a bad file stops the start with its message (cli.ts).
  let opened: Store | undefined;
  let opening: Promise<Store> | undefined;
  const store = (): Promise<Store> =>
    (opening ??= import('./store/index.ts').then(({ openStore }) => {
      opened = openStore({
        path: config.store.path ?? options.dbPath ?? ':memory:',
        busyTimeoutMs: config.store.busyTimeoutMs,
        ...config.incidents,
        // Diagnoses and transcripts are redacted by the store itself on the way in.
        redact,
        onChange: c => {
          changes.publish(c);
        },
      });
      return opened;
    }));
  const changes = createChangeFeed({ store: () => opened, pollMs: config.store.changePollMs, logger });
  const audit = createAuditRecorder({ store, redact, now, logger });
  const docker = createDockerClient({ maxConcurrent: config.sandbox.maxConcurrent, owner: options.owner });
  return {
    config,
    logger,
    redact,
    now,
    owner: options.owner ?? processOwner(),
    prometheus,
    loki,
    predictor,
    github,
    prQuota: createStorePrQuota(store),
    docker,
    receipts: createReceipts({
      key: config.sandbox.receiptKey,
      ttlSeconds: config.sandbox.receiptTtlMinutes * 60,
      now,
    }),
    store,
    changes,
    audit,
    async close() {
      // Sandbox runs still under way end here: the process exits right after, and their containers must not outlive
      // it (the reaper of the next start is for a crash only).
      await docker.close();
      // The calls of those runs answer "cancelled" once their runs have ended: a turn of the event loop lets them
      // record their audit rows before the last flush.
      await new Promise(resolve => setImmediate(resolve));
      await audit.flush();
      changes.close();
      opened?.close();
      await Promise.all([prometheus?.close(), loki?.close(), predictor?.close()]);
    },
  };
}
