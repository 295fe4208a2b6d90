// All settings: one zod schema, filled from an optional config file (JSON or YAML) and then environment variables.

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { z } from 'zod';
import { DEFAULT_TARGET } from './clients/predictor.ts';
import { decodeUserinfo } from './lib/http.ts';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });
const timeoutMs = z.number().int().min(100).max(600_000);
const repoPattern = z
  .string()
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/(?:\*|[A-Za-z0-9._-]{1,100})$/,
    'must be owner/repo or owner/*',
  );

const limitsSchema = z.strictObject({
  memoryMb: z
    .number()
    .int()
    .min(16)
    .max(64 * 1024),
  cpus: z.number().min(0.1).max(64),
  pids: z.number().int().min(8).max(65_536),
  timeoutSeconds: z.number().int().min(1).max(3600),
  outputKb: z.number().int().min(1).max(1024),
  tmpfsMb: z
    .number()
    .int()
    .min(8)
    .max(16 * 1024),
});
export type SandboxLimitsConfig = z.output<typeof limitsSchema>;
const DEFAULT_LIMITS: SandboxLimitsConfig = {
  memoryMb: 512,
  cpus: 1,
  pids: 256,
  timeoutSeconds: 300,
  outputKb: 16,
  tmpfsMb: 256,
};
// The sandbox's own limits: each one not given keeps its default, so that `{ memoryMb: 1024 }` works. A repository's
// limits (limitsSchema.partial()) have no defaults: a limit it leaves out lowers nothing.
const { shape: limit } = limitsSchema;
const sandboxLimitsSchema = z
  .strictObject({
    memoryMb: limit.memoryMb.default(DEFAULT_LIMITS.memoryMb),
    cpus: limit.cpus.default(DEFAULT_LIMITS.cpus),
    pids: limit.pids.default(DEFAULT_LIMITS.pids),
    timeoutSeconds: limit.timeoutSeconds.default(DEFAULT_LIMITS.timeoutSeconds),
    outputKb: limit.outputKb.default(DEFAULT_LIMITS.outputKb),
    tmpfsMb: limit.tmpfsMb.default(DEFAULT_LIMITS.tmpfsMb),
  })
  .prefault({});

/**
 * Paths open_pr refuses unless a repository's `pr.allowPaths` lifts them: CI and repository settings, code owners,
 * agent instructions, dependency manifests and lockfiles, package-manager settings and hooks that run code on
 * install, and every top-level dot-directory. Ordinary top-level dotfiles (.gitignore, .editorconfig, linter
 * settings) stay open: they are everyday fixes, and CI still judges the result.
 */
export const DEFAULT_PROTECTED_PATHS: readonly string[] = [
  '.github/**',
  '.*/**',
  // CI outside .github
  '.gitlab-ci.yml',
  '.travis.yml',
  '**/Jenkinsfile',
  'azure-pipelines.yml',
  'bitbucket-pipelines.yml',
  // ownership and what the repository's files mean to git
  '**/CODEOWNERS',
  '**/.gitattributes',
  '**/.gitmodules',
  // instructions to coding agents
  '**/AGENTS.md',
  '**/CLAUDE.md',
  '**/GEMINI.md',
  '**/.cursorrules',
  '**/.windsurfrules',
  '**/.clinerules',
  // package-manager settings and install hooks
  '**/.npmrc',
  '**/.yarnrc',
  '**/.yarnrc.yml',
  '**/.pnpmfile.cjs',
  // manifests and lockfiles
  '**/package.json',
  '**/package-lock.json',
  '**/npm-shrinkwrap.json',
  '**/yarn.lock',
  '**/pnpm-lock.yaml',
  '**/bun.lock',
  '**/bun.lockb',
  '**/go.mod',
  '**/go.sum',
  '**/Cargo.toml',
  '**/Cargo.lock',
  '**/requirements*.txt',
  '**/pyproject.toml',
  '**/poetry.lock',
  '**/uv.lock',
  '**/Pipfile',
  '**/Pipfile.lock',
  '**/setup.py',
  '**/setup.cfg',
  '**/Gemfile',
  '**/Gemfile.lock',
  '**/pom.xml',
  '**/build.gradle',
  '**/build.gradle.kts',
  '**/settings.gradle',
  '**/settings.gradle.kts',
  '**/composer.json',
  '**/composer.lock',
];

const prPolicySchema = z.strictObject({
  /** Base branches a PR may target; empty means the repository's default branch only. */
  baseBranches: z.array(z.string().min(1).max(255)).default([]),
  /** Every head branch is `<prefix><slug>`; the caller names only the slug. */
  branchPrefix: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*\/$/i, 'must be letters, digits, ".", "_" or "-" ending in "/"')
    .default('devops-mcp/'),
  protectedPaths: z.array(z.string().min(1)).default([...DEFAULT_PROTECTED_PATHS]),
  /** Globs lifting specific protected paths, e.g. ["package.json"]. */
  allowPaths: z.array(z.string().min(1)).default([]),
  maxFiles: z.number().int().min(1).max(100).default(20),
  maxFileBytes: z
    .number()
    .int()
    .min(1)
    .max(1024 * 1024)
    .default(512 * 1024),
  maxTotalBytes: z
    .number()
    .int()
    .min(1)
    .max(4 * 1024 * 1024)
    .default(2 * 1024 * 1024),
  maxDeletions: z.number().int().min(0).max(100).default(5),
  /** Only draft PRs (the caller cannot lift it); false lets a caller ask for a ready one with draft: false. */
  draftOnly: z.boolean().default(true),
  /** A passing run_sandbox_test receipt for exactly the change is required. */
  requireReceipt: z.boolean().default(true),
  maxPrsPerHour: z.number().int().min(0).max(1000).default(5),
  /** Labels a caller may put on the PR. */
  labels: z.array(z.string().min(1).max(50)).default([]),
});
export type PrPolicy = z.output<typeof prPolicySchema>;

const count = (max: number, fallback: number) => z.number().int().min(0).max(max).default(fallback);

const agentSchema = z.strictObject({
  /** Per investigation: model calls, tool calls, tokens (from the model's usage), wall clock. */
  maxModelCalls: count(1000, 24),
  maxToolCalls: count(1000, 30),
  maxTokens: count(10_000_000, 200_000),
  maxSeconds: count(86_400, 300),
  /** Corrections a model gets for answering without a diagnosis, calling unknown tools or invalid JSON arguments. */
  maxCorrections: count(20, 3),
  /** Revisions of a proposed change after a failing sandbox run. */
  maxRevisions: count(10, 2),
  /**
   * The confidence, after the citation check, below which a proposed change is not even tested: the check lowers it
   * for evidence that did not happen or failed, and such a diagnosis is a guess, not grounds to act.
   */
  minConfidenceToAct: z.number().min(0).max(1).default(0.5),
  /** Per hour, across the process (counted in the store). */
  maxInvestigationsPerHour: count(1000, 10),
  maxPrsPerHour: count(1000, 2),
  /** Investigations at once (this is a 2-core machine). */
  concurrency: z.number().int().min(1).max(8).default(1),
  /** How often the loop looks for open incidents (`--once` looks once). */
  pollSeconds: z.number().min(0.05).max(3600).default(15),
  /** LLM calls: retries with backoff and jitter (retry-after honoured), then a circuit breaker. */
  llmRetries: count(10, 3),
  llmTimeoutMs: timeoutMs.default(120_000),
  breakerFailures: z.number().int().min(1).max(100).default(3),
  breakerCooldownSeconds: z.number().min(0.01).max(3600).default(60),
  /** After the loop acts on an incident group (a sandbox run, a PR), how long before it acts on that group again. */
  cooldownSeconds: count(7 * 86_400, 3600),
  /** After a PR, how long the incident may stay unresolved before the outcome is "not resolved". */
  outcomeWindowSeconds: count(30 * 86_400, 86_400),
});

// The HTTP client builds every request's query itself: a query string or fragment in the base URL would be
// dropped, so it is refused instead (extra parameters belong in headers, credentials in the URL's userinfo).
const backendUrl = httpUrl.refine(
  url => !/[?#]/.test(url),
  'must not carry a query string or fragment (set headers for what a proxy needs)',
);

const backend = <T extends z.ZodRawShape>(extra: T) =>
  z.strictObject({ url: backendUrl, timeoutMs: timeoutMs.default(15_000), ...extra });

export const configSchema = z.strictObject({
  prometheus: backend({
    /** Points per series aimed at when the caller gives no step. */
    targetPoints: z.number().int().min(10).max(11_000).default(240),
    /** Most points per series ever requested; a caller's step is raised to stay under it. */
    maxPoints: z.number().int().min(10).max(11_000).default(1100),
    maxResponseBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(64 * 1024 * 1024),
    /** Extra request headers, e.g. X-Scope-OrgID for Mimir or an Authorization header. */
    headers: z.record(z.string(), z.string()).default({}),
  })
    .refine(p => p.targetPoints <= p.maxPoints, {
      path: ['targetPoints'],
      message: 'must not exceed prometheus.maxPoints',
    })
    .optional(),
  loki: backend({
    /** Most log lines a caller may ask for (search_loki's `limit` is clamped to it). */
    maxLines: z.number().int().min(1).max(5000).default(1000),
    /** Loki's own max_entries_limit_per_query: a larger limit is never sent. */
    // search_loki asks for one line more than it returns, to know whether more are left.
    maxEntriesLimit: z.number().int().min(2).default(5000),
    /** Loki's own max_query_length, in hours: a longer range is refused before it is sent. */
    maxQueryLengthHours: z.number().min(1).default(721),
    /** Cost guardrail: refuse a query whose index statistics say it would scan more bytes than this. */
    maxBytesScanned: z
      .number()
      .int()
      .min(1024)
      .default(10 * 1024 ** 3),
    maxResponseBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(32 * 1024 * 1024),
    /** Extra request headers, e.g. X-Scope-OrgID for a multi-tenant Loki. */
    headers: z.record(z.string(), z.string()).default({}),
  }).optional(),
  predictor: backend({
    /** A health check should answer fast: a slower service is reported, not waited for. */
    timeoutMs: timeoutMs.default(3000),
    /** More services to watch, by name; predictor_health's `target` picks one (default: `url`). */
    targets: z
      .record(
        z
          .string()
          .regex(/^[a-z0-9][a-z0-9_-]*$/i)
          // `default` is url's target: a second one by that name would silently replace it.
          .refine(name => name !== DEFAULT_TARGET, {
            message: `"${DEFAULT_TARGET}" is the name of predictor.url's target (PREDICTOR_URL); give this one another name`,
          }),
        httpUrl,
      )
      .default({}),
    /** Share of 5xx answers above which a target is degraded. */
    maxErrorRatio: z.number().min(0).max(1).default(0.05),
    /** p95 request latency, in seconds, above which a target is degraded. */
    maxP95Seconds: z.number().positive().default(1),
    /** A /health slower than this, in milliseconds, makes a target degraded. */
    slowHealthMs: z.number().int().positive().default(1000),
  }).optional(),
  github: z
    .strictObject({
      token: z.string().min(1).optional(),
      apiUrl: httpUrl.default('https://api.github.com'),
      timeoutMs: timeoutMs.default(15_000),
      /** Spacing of write requests (GitHub asks for at least 1 s; PR creation gets three times it); 0 turns it off. */
      writeSpacingMs: z.number().int().min(0).max(60_000).default(1000),
    })
    .default({ apiUrl: 'https://api.github.com', timeoutMs: 15_000, writeSpacingMs: 1000 }),
  openai: z
    .strictObject({
      apiKey: z.string().min(1).optional(),
      baseUrl: httpUrl.optional(),
      model: z.string().min(1).default('gpt-4o-mini'),
    })
    .default({ model: 'gpt-4o-mini' }),
  allowedRepos: z.array(repoPattern).default([]),
  /** Per-repository policies, keyed by owner/repo. */
  repos: z
    .record(
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/, 'must be owner/repo'),
      z.strictObject({
        /**
         * Where the sandbox takes the source from: `{ path }`, a local checkout (its work tree, or a git ref of it
         * when the call names one), or `{ github: {} }`, the GitHub tarball at the call's ref (default branch).
         */
        source: z.union([
          z.strictObject({ path: z.string().min(1) }),
          z.strictObject({ github: z.strictObject({}) }),
        ]),
        /** Named test commands a caller may run, e.g. { "test": "node --test" }. */
        commands: z.record(z.string().regex(/^[a-z0-9_-]+$/i), z.string().min(1)).default({}),
        /** Whether a caller may run a command the policy does not name. */
        allowFreeformCommand: z.boolean().default(false),
        image: z.string().min(1).optional(),
        limits: limitsSchema.partial().optional(),
        /** What open_pr may do in this repository. */
        pr: prPolicySchema.prefault({}),
        /** The headless loop (`devops-mcp agent`) in this repository: its mode is capped at `maxMode`. */
        agent: z
          .strictObject({ maxMode: z.enum(['observe', 'propose', 'autonomous']).default('autonomous') })
          .prefault({}),
      }),
    )
    // GitHub ignores case in names, so two keys that differ only in case are one repository with two policies,
    // and which one holds would depend on the order of the file.
    .superRefine((repos, ctx) => {
      const seen = new Map<string, string>();
      for (const name of Object.keys(repos)) {
        const first = seen.get(name.toLowerCase());
        if (first === undefined) seen.set(name.toLowerCase(), name);
        else
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: `"${first}" and "${name}" name the same repository (GitHub ignores case); keep one`,
          });
      }
    })
    .default({}),
  sandbox: z
    .strictObject({
      /** Images a sandbox may use; the first is the default. */
      images: z.array(z.string().min(1)).min(1).default(['devops-mcp-sandbox:node24']),
      /** What a run gets when nobody asks for less; callers may lower, never raise, these. */
      limits: sandboxLimitsSchema,
      /** Key for validation receipts (at least 32 characters). Without it a random key per process is used. */
      receiptKey: z.string().min(32, 'must be at least 32 characters').optional(),
      receiptTtlMinutes: z
        .number()
        .int()
        .min(1)
        .max(7 * 24 * 60)
        .default(120),
      maxConcurrent: z.number().int().min(1).max(16).default(2),
    })
    .default({
      images: ['devops-mcp-sandbox:node24'],
      limits: DEFAULT_LIMITS,
      receiptTtlMinutes: 120,
      maxConcurrent: 2,
    }),
  http: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65_535).default(8811),
      // The characters of an RFC 6750 bearer token: what a client can send after "Bearer " and be matched.
      token: z
        .string()
        .min(16, 'must be at least 16 characters')
        .regex(
          /^[A-Za-z0-9\-._~+/]+=*$/,
          'may hold only letters, digits and - . _ ~ + / (then = padding), no spaces',
        )
        .optional(),
      /** Host header values accepted besides the loopback names (DNS-rebinding protection). */
      allowedHosts: z.array(z.string().min(1)).default([]),
      /** Origins accepted besides http(s)://<allowed host>. */
      allowedOrigins: z.array(z.string().min(1)).default([]),
      maxSessions: z.number().int().min(1).max(10_000).default(64),
      sessionIdleMinutes: z
        .number()
        .min(1)
        .max(24 * 60)
        .default(30),
    })
    .default({
      host: '127.0.0.1',
      port: 8811,
      allowedHosts: [],
      allowedOrigins: [],
      maxSessions: 64,
      sessionIdleMinutes: 30,
    }),
  output: z
    .strictObject({
      /** Cap on a tool result's text. */
      maxBytes: z
        .number()
        .int()
        .min(1024)
        .max(1024 * 1024)
        .default(8192),
      /** Cap for `format: "full"` results. */
      maxBytesFull: z
        .number()
        .int()
        .min(1024)
        .max(4 * 1024 * 1024)
        .default(32_768),
    })
    .default({ maxBytes: 8192, maxBytesFull: 32_768 }),
  /** The local SQLite store: incidents, their timelines, the audit log. */
  store: z
    .strictObject({
      /** A file path or `:memory:`; unset, a file under the user's state directory (see store/paths.ts). */
      path: z.string().min(1).optional(),
      /** How long a write waits for another process's lock before the start fails. */
      busyTimeoutMs: z.number().int().min(0).max(600_000).default(5000),
      /** How often a process with subscribers looks for changes another process made. */
      changePollMs: z.number().int().min(50).max(60_000).default(1000),
      /**
       * Days an investigation's transcript (every message and tool result, the bulk of the file) is kept; its
       * diagnosis, figures and the timeline stay. 0 keeps them for ever.
       */
      transcriptDays: z.number().min(0).max(3650).default(30),
    })
    .prefault({}),
  /** How alerts become incidents (src/incidents/). */
  incidents: z
    .strictObject({
      /** Labels that put alerts into one incident: the first one an alert carries decides. */
      groupBy: z
        .array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/))
        .min(1)
        .default(['service', 'job']),
      /** Flap guard: all alerts must stay resolved this long before the incident resolves. */
      quietSeconds: z.number().min(0).max(86_400).default(300),
      /** A group alerting again this soon after its incident resolved reopens that incident. */
      windowSeconds: z
        .number()
        .min(0)
        .max(7 * 86_400)
        .default(1800),
      /** `serve --watch`: how often Prometheus's /api/v1/alerts is read. */
      pollSeconds: z.number().min(0.05).max(3600).default(15),
      /** Events kept per incident; older ones are dropped and counted. */
      timelineMax: z.number().int().min(10).max(100_000).default(500),
      /** Largest Alertmanager webhook body accepted by POST /alerts. */
      webhookMaxBytes: z
        .number()
        .int()
        .min(1024)
        .max(64 * 1024 * 1024)
        .default(1024 * 1024),
      /**
       * A webhook alert not re-sent for this long is resolved as expired: Alertmanager re-sends firing alerts every
       * `repeat_interval` (4 h by default) and says "resolved" only once. Keep it above the `repeat_interval`.
       */
      webhookAlertExpirySeconds: z
        .number()
        .min(600)
        .max(30 * 86_400)
        .default(12 * 3600),
      /**
       * Prometheus's `external_labels`: it adds them to the alerts it sends to Alertmanager, not to those
       * /api/v1/alerts reports, so they are dropped from every alert for both to be one alert.
       */
      externalLabels: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  /** The headless loop (`devops-mcp agent`, src/agent/): budgets, corrections, retries. */
  agent: agentSchema.prefault({}),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.output<typeof configSchema>;
export type RepoPolicy = Config['repos'][string];

type EnvKind = 'string' | 'list' | 'number';

/** The public environment interface: variable → where it lands in the schema. */
export const ENV_SETTINGS: ReadonlyArray<{
  env: string;
  path: readonly string[];
  kind?: EnvKind;
  secret?: boolean;
}> = [
  { env: 'PROMETHEUS_URL', path: ['prometheus', 'url'] },
  { env: 'LOKI_URL', path: ['loki', 'url'] },
  { env: 'PREDICTOR_URL', path: ['predictor', 'url'] },
  { env: 'GITHUB_TOKEN', path: ['github', 'token'], secret: true },
  { env: 'GITHUB_API_URL', path: ['github', 'apiUrl'] },
  { env: 'DEVOPS_MCP_ALLOWED_REPOS', path: ['allowedRepos'], kind: 'list' },
  { env: 'DEVOPS_MCP_HTTP_TOKEN', path: ['http', 'token'], secret: true },
  { env: 'OPENAI_API_KEY', path: ['openai', 'apiKey'], secret: true },
  { env: 'OPENAI_BASE_URL', path: ['openai', 'baseUrl'] },
  { env: 'DEVOPS_MCP_MODEL', path: ['openai', 'model'] },
  { env: 'LOG_LEVEL', path: ['logLevel'] },
  { env: 'DEVOPS_MCP_DB', path: ['store', 'path'] },
];

const SECRET_PATHS = new Set(ENV_SETTINGS.filter(s => s.secret).map(s => s.path.join('.')));

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LoadOptions {
  env: Record<string, string | undefined>;
  /** Values that win over everything (command-line flags), as schema paths. */
  overrides?: ReadonlyArray<{ path: readonly string[]; value: unknown; flag: string }>;
  readFile?: (path: string) => string;
}

export async function loadConfig(options: LoadOptions): Promise<Config> {
  const { env, overrides = [], readFile = (path: string) => readFileSync(path, 'utf8') } = options;
  const filePath = env.DEVOPS_MCP_CONFIG?.trim() || undefined;
  const raw: Record<string, unknown> = filePath ? await readConfigFile(filePath, readFile) : {};
  const origin = new Map<string, string>();

  for (const setting of ENV_SETTINGS) {
    const value = env[setting.env]?.trim();
    if (value === undefined || value === '') continue;
    setPath(raw, setting.path, setting.kind === 'list' ? splitList(value) : value);
    origin.set(setting.path.join('.'), setting.env);
  }
  for (const override of overrides) {
    setPath(raw, override.path, override.value);
    origin.set(override.path.join('.'), override.flag);
  }

  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map(issue => describeIssue(issue, raw, origin, filePath));
  throw new ConfigError(`Invalid configuration:\n${lines.map(line => `  - ${line}`).join('\n')}`);
}

async function readConfigFile(
  path: string,
  readFile: (path: string) => string,
): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    const reason = (error as { code?: string }).code === 'ENOENT' ? 'no such file' : String(error);
    throw new ConfigError(`DEVOPS_MCP_CONFIG: cannot read ${path}: ${reason}`);
  }
  const json = extname(path).toLowerCase() === '.json';
  let data: unknown;
  try {
    if (json) data = JSON.parse(text);
    // yaml is CommonJS under Node: its exports object is the default export, bundled or not. Its warnings
    // (an unknown tag) would go to stderr with the line they are about.
    else data = (await import('yaml')).default.parse(text, { logLevel: 'error' });
  } catch (error) {
    const problem = json ? jsonProblem(error as Error, text) : yamlProblem(error as Error);
    throw new ConfigError(`DEVOPS_MCP_CONFIG: ${path} is not valid ${json ? 'JSON' : 'YAML'}: ${problem}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`DEVOPS_MCP_CONFIG: ${path} must hold an object of settings at its top level`);
  }
  return data as Record<string, unknown>;
}

// A parser's message quotes the file (YAML a code frame, V8 up to 20 characters around the error, some messages the
// token they stumbled on), and the file holds secrets: only the position and the bare reason are reported.

/** Where a YAML file goes wrong and why, from the parser's error. */
function yamlProblem(error: Error): string {
  const { code, linePos } = error as Error & {
    code?: string;
    linePos?: Array<{ line: number; col: number }>;
  };
  // These messages go on to quote what they found (a tag, an escape, a token, a block header's extra characters, a
  // directive's name or version).
  const quoting = [
    'UNEXPECTED_TOKEN',
    'TAG_RESOLVE_FAILED',
    'BAD_DQ_ESCAPE',
    'BAD_SCALAR_START',
    'BAD_DIRECTIVE',
  ];
  const reason =
    code === undefined || quoting.includes(code)
      ? (code ?? 'unreadable').toLowerCase().replaceAll('_', ' ')
      : (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '').split(': ')[0] ||
        'unreadable';
  const at = linePos?.[0];
  return at ? `${reason} at line ${at.line}, column ${at.col}` : reason;
}

/** Where a JSON file goes wrong and why: V8 names the position for some errors, the rest are found by jsonErrorAt. */
function jsonProblem(error: Error, text: string): string {
  const named = /^(.*?) in JSON at position \d+ \(line (\d+) column (\d+)\)$/.exec(error.message);
  if (named) return `${named[1] ?? ''} at line ${named[2] ?? '?'}, column ${named[3] ?? '?'}`;
  const offset = jsonErrorAt(text);
  const before = text.slice(0, offset).split('\n');
  const reason = offset >= text.length ? 'unexpected end of input' : 'unexpected token';
  return `${reason} at line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

// Compiled once: a config that fails to parse may be megabytes of tokens.
const JSON_SPACE = /[ \t\n\r]*/y;
// A string's characters: any from the space up but " and \, or an escape.
const JSON_STRING = /"(?:[ !#-[\]-\uffff]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const JSON_SCALAR = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;

/** The offset of the first character at which `text` stops being JSON (its length when it ends too soon). */
function jsonErrorAt(text: string): number {
  let at = 0;
  const take = (sticky: RegExp): boolean => {
    sticky.lastIndex = at;
    const match = sticky.exec(text);
    if (match) at += match[0].length;
    return match !== null;
  };
  const char = (wanted: string): boolean => {
    if (text[at] !== wanted) return false;
    at += 1;
    return true;
  };
  // An object's key and colon, after which its value is due.
  const key = (): boolean => {
    take(JSON_SPACE);
    if (!take(JSON_STRING)) return false;
    take(JSON_SPACE);
    return char(':');
  };
  // The closers of the objects and arrays still open, innermost last: a stack of its own rather than recursion,
  // since a file nested some thousands deep would overflow the call stack.
  const closers: string[] = [];
  for (;;) {
    // A value is due.
    take(JSON_SPACE);
    const open = text[at];
    if (open === '{' || open === '[') {
      at += 1;
      const close = open === '{' ? '}' : ']';
      take(JSON_SPACE);
      if (!char(close)) {
        closers.push(close);
        if (close === '}' && !key()) return at;
        continue;
      }
    } else if (!take(JSON_STRING) && !take(JSON_SCALAR)) return at;
    // A value is complete: close what it completes, until a comma calls for the next value.
    for (;;) {
      take(JSON_SPACE);
      const close = closers.at(-1);
      if (close === undefined) return at;
      if (char(close)) {
        closers.pop();
        continue;
      }
      if (!char(',') || (close === '}' && !key())) return at;
      break;
    }
  }
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map(item => item.trim())
    .filter(item => item !== '');
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next === 'object' && next !== null && !Array.isArray(next))
      node = next as Record<string, unknown>;
    else node = node[key] = {};
  }
  const last = path.at(-1);
  if (last !== undefined) node[last] = value;
}

function describeIssue(
  issue: z.core.$ZodIssue,
  raw: Record<string, unknown>,
  origin: Map<string, string>,
  filePath: string | undefined,
): string {
  const path = issue.path.map(String);
  const dotted = path.join('.');
  // Name the setting the way the operator wrote it: the env var or flag, else the key in the file.
  let setting: string | undefined;
  for (let length = path.length; length > 0 && setting === undefined; length--) {
    setting = origin.get(path.slice(0, length).join('.'));
  }
  const where = setting ?? (filePath ? `${dotted || '(top level)'} in ${filePath}` : dotted);
  const missingFrom = ENV_SETTINGS.find(s => s.path.join('.') === dotted);
  const value = getPath(raw, path);
  let message = issue.message;
  if (value === undefined && missingFrom) message = `required (set ${missingFrom.env})`;
  else if (issue.code === 'unrecognized_keys') message = unknownKeys(issue.keys, secretValue(path));
  // zod words a bad record key as "Invalid key in record"; what is wrong with it is in the inner issues.
  else if (issue.code === 'invalid_key') message = issue.issues.map(inner => inner.message).join('; ');
  // Only a plain value at a non-secret path is echoed: an object (the enclosing section of an unknown key)
  // would carry whatever secrets sit beside it, and a scalar written where a section or record belongs is most
  // likely what that section holds (`github: ghp_…`, `headers: "Authorization: Bearer …"`).
  const plain = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
  const inPlaceOfSection =
    issue.code === 'invalid_type' && ['object', 'record', 'map'].includes(issue.expected);
  const shown =
    !plain ||
    inPlaceOfSection ||
    issue.code === 'invalid_key' ||
    SECRET_PATHS.has(dotted) ||
    secretValue(path)
      ? ''
      : ` (got ${JSON.stringify(typeof value === 'string' ? withoutUserinfo(value) : value)})`;
  return `${where}: ${message}${shown}`;
}

/**
 * Names the unknown keys of a section. Under a section holding secrets a "key" may be a secret itself, a YAML
 * `token:ghp_…` without its space being one plain key: there only what is spelled like a setting's name is shown.
 */
function unknownKeys(keys: readonly string[], secret: boolean): string {
  const shown = secret ? keys.filter(key => /^[A-Za-z][A-Za-z0-9_]{0,23}$/.test(key)) : keys;
  const hidden = keys.length - shown.length;
  const parts = shown.length > 0 ? [`unknown setting(s): ${shown.join(', ')}`] : [];
  if (hidden > 0) {
    const why = hidden === 1 ? 'setting (name not shown: it' : 'settings (names not shown: they';
    parts.push(`${hidden} ${shown.length > 0 ? 'more ' : ''}unknown ${why} may hold a secret)`);
  }
  return parts.join('; ');
}

/**
 * A value as it may be echoed in a start-up error: what could be a URL's user and password masked (everything
 * before the last "@" of its authority, with or without a scheme, since a password with an unencoded "/" or "#"
 * is exactly the URL that fails to parse) and its query and fragment left out (`?access_token=…`).
 */
function withoutUserinfo(value: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value)?.[0] ?? '';
  let rest = value.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  if (at >= 0) rest = `***${rest.slice(at)}`;
  const query = rest.search(/[?#]/);
  if (query >= 0) rest = `${rest.slice(0, query)}${rest.charAt(query)}…`;
  return `${scheme}${rest}`;
}

// Sections that hold secrets (tokens, keys, the receipt key) beside settings: nothing under them is echoed.
const SECRET_SECTIONS = new Set(['github', 'openai', 'http', 'sandbox']);

/** Paths whose values must not be echoed: the secret sections, any headers, and file-only secrets by name. */
function secretValue(path: readonly string[]): boolean {
  return (
    SECRET_SECTIONS.has(path[0] ?? '') ||
    path.includes('headers') ||
    /^(token|apiKey|password|receiptKey)$/.test(path.at(-1) ?? '')
  );
}

function getPath(target: unknown, path: readonly string[]): unknown {
  let node = target;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Header names whose values are credentials: Authorization, cookies, and anything named for a key or token. */
const CREDENTIAL_HEADER = /authorization|cookie|token|secret|password|api[-_]?key|(^|[-_])key$|auth/i;

/** A secret value and the setting it comes from, as a message names it ("the password in PROMETHEUS_URL"). */
export interface SecretSource {
  value: string;
  from: string;
}

/** Every secret value in the configuration, so that logs and results can be scrubbed of them. */
export function secretsOf(config: Config): string[] {
  return secretSourcesOf(config).map(secret => secret.value);
}

/**
 * secretsOf's values, each with the setting it comes from: a refusal names that, never the value, so that a
 * password that is also a common word ("prometheus") can be told from a token the model put in a file.
 */
export function secretSourcesOf(config: Config): SecretSource[] {
  // 20 or more characters of a token's alphabet (base64's + = too), mixing two of lower-case, upper-case and digits:
  // no user name is spelled so, while a hex digest, a base64 key or a GitHub token is.
  const tokenLike = (text: string): boolean =>
    /^[\w.~%+=!$*-]{20,}$/.test(text) && [/[a-z]/, /[A-Z]/, /\d/].filter(kind => kind.test(text)).length >= 2;
  const secrets: Array<{ value: string | undefined; from: string }> = [
    { value: config.github.token, from: 'the GitHub token (GITHUB_TOKEN)' },
    { value: config.http.token, from: 'the HTTP token (DEVOPS_MCP_HTTP_TOKEN)' },
    { value: config.openai.apiKey, from: 'the OpenAI API key (OPENAI_API_KEY)' },
    { value: config.sandbox.receiptKey, from: 'the receipt key (sandbox.receiptKey)' },
  ];
  const urls: Array<[string | undefined, string]> = [
    [config.prometheus?.url, 'PROMETHEUS_URL'],
    [config.loki?.url, 'LOKI_URL'],
    [config.predictor?.url, 'PREDICTOR_URL'],
    ...Object.entries(config.predictor?.targets ?? {}).map(([name, url]): [string, string] => [
      url,
      `predictor.targets.${name}`,
    ]),
    [config.github.apiUrl, 'GITHUB_API_URL'],
    [config.openai.baseUrl, 'OPENAI_BASE_URL'],
  ];
  for (const [url, setting] of urls) {
    if (url === undefined) continue;
    const { username, password } = new URL(url);
    // A user name is a secret only when it looks like a token (https://<token>@host, GitHub's
    // https://<token>:x-oauth-basic@host), standing alone or not: a plain one (prometheus@, admin:pw@) is no
    // secret, and would blank every word that spells it (job="prometheus").
    const credentials = [
      { value: password, from: `the password in ${setting}` },
      { value: tokenLike(username) ? username : '', from: `the user name in ${setting}` },
    ];
    // Both spellings: an error quoting the URL shows it percent-encoded, a header or a log the decoded value.
    for (const { value, from } of credentials.filter(credential => credential.value !== ''))
      secrets.push({ value, from }, { value: decodeUserinfo(value), from });
  }
  // Only headers that carry credentials: a tenant id (X-Scope-OrgID: 1234, prod) is no secret, and scrubbing it
  // would blank every label value and number that happens to match it. Each backend's own (two may both send an
  // Authorization), and the credential after an auth scheme too, since a backend may echo just that.
  const sections: Array<[Record<string, string> | undefined, string]> = [
    [config.prometheus?.headers, 'prometheus.headers'],
    [config.loki?.headers, 'loki.headers'],
  ];
  for (const [headers, section] of sections) {
    for (const [name, raw] of Object.entries(headers ?? {})) {
      if (!CREDENTIAL_HEADER.test(name)) continue;
      // As sent: HTTP trims a header value. The scheme is split off only where the header is one of RFC 9110's
      // `scheme credentials` (X-Auth-User: Jane Smith must not make every "Smith" a secret).
      const value = raw.trim();
      const from = `the ${name} header in ${section}`;
      secrets.push({ value, from });
      if (/^(proxy-)?authorization$/i.test(name)) {
        const credential = /^[A-Za-z][\w-]*\s+(\S.*)$/.exec(value)?.[1];
        if (credential !== undefined) secrets.push({ value: credential, from });
      }
    }
  }
  return secrets.filter(
    (secret): secret is SecretSource => secret.value !== undefined && secret.value.length >= 4,
  );
}
