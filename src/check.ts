// `devops-mcp check`: probes every configured backend and reports one line each.

import { z } from 'zod';
import { createPredictorClient, DEFAULT_TARGET } from './clients/predictor.ts';
import { createPrometheusClient } from './clients/prometheus.ts';
import type { Config } from './config.ts';
import type { Context } from './context.ts';
import { ToolError } from './lib/errors.ts';
import { assess, healthFields } from './lib/health.ts';
import { createHttpBackend, type HttpBackend } from './lib/http.ts';

export interface CheckResult {
  backend: string;
  /** `degraded`: a watched service answers but is not healthy; unlike `failing` it does not fail the check. */
  status: 'ok' | 'degraded' | 'failing' | 'not configured';
  detail: string;
}

interface Probe {
  backend: string;
  /** The setting to name when it is missing; undefined when the backend is configured. */
  missing?: string;
  /** Resolves with what was found, `{ degraded }` for a service that answers but is not healthy; rejects for a failure. */
  run?: () => Promise<string | { degraded: string }>;
}

// A check should answer quickly even when a backend hangs.
const PROBE_TIMEOUT_MS = 5000;

export async function runChecks(ctx: Context): Promise<CheckResult[]> {
  const probes = probesFor(ctx);
  return Promise.all(
    probes.map(async (probe): Promise<CheckResult> => {
      if (!probe.run)
        return { backend: probe.backend, status: 'not configured', detail: `set ${probe.missing ?? '?'}` };
      const started = performance.now();
      try {
        const found = await probe.run();
        const ms = `(${Math.round(performance.now() - started)} ms)`;
        if (typeof found === 'string')
          return { backend: probe.backend, status: 'ok', detail: `${found} ${ms}` };
        // The reasons may quote what the service itself reports.
        return { backend: probe.backend, status: 'degraded', detail: ctx.redact(`${found.degraded} ${ms}`) };
      } catch (error) {
        const message = error instanceof ToolError ? error.message : String(error);
        return { backend: probe.backend, status: 'failing', detail: ctx.redact(message) };
      }
    }),
  );
}

export function formatChecks(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map(r => r.backend.length));
  return results.map(r => `${r.backend.padEnd(width)}  ${r.status.padEnd(14)}  ${r.detail}`).join('\n');
}

function backend(
  name: string,
  envVar: string,
  baseUrl: string,
  headers?: Record<string, string>,
): HttpBackend {
  return createHttpBackend({
    name,
    envVar,
    baseUrl,
    timeoutMs: PROBE_TIMEOUT_MS,
    maxResponseBytes: 1024 * 1024,
    headers,
  });
}

async function withBackend<T>(http: HttpBackend, use: (http: HttpBackend) => Promise<T>): Promise<T> {
  try {
    return await use(http);
  } finally {
    await http.close();
  }
}

function expectOk(http: HttpBackend, status: number, what: string): void {
  if (status < 200 || status >= 300) {
    throw new ToolError('BACKEND_ERROR', `${http.name} answered HTTP ${status} to ${what}`);
  }
}

/**
 * The JSON body of a 2xx answer in the shape `schema` gives, or a failure naming the setting: a 200 from something
 * else (a login page, a proxy, the web UI instead of the API) is the wrong URL, said as the other probes say it.
 */
function answerOf<T>(body: Buffer, schema: z.ZodType<T>, notIt: string): T {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    json = undefined;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ToolError('BACKEND_ERROR', notIt);
  return parsed.data;
}

/** `url`'s origin with `path`, where a URL without that path most likely lacks it: a suggestion for the setting. */
function likelyUrl(url: string, path: string): string | undefined {
  const parsed = new URL(url);
  return parsed.pathname.replace(/\/+$/, '').endsWith(path) ? undefined : `${parsed.origin}${path}`;
}

const rateLimitSchema = z.object({ rate: z.object({ remaining: z.number(), limit: z.number() }) });
const modelsSchema = z.object({ data: z.array(z.object({ id: z.string() })) });

function probesFor(ctx: Context): Probe[] {
  const { config } = ctx;
  return [
    config.prometheus
      ? prometheusProbe(config.prometheus)
      : { backend: 'prometheus', missing: 'PROMETHEUS_URL' },
    config.loki ? lokiProbe(config.loki) : { backend: 'loki', missing: 'LOKI_URL' },
    ...(config.predictor
      ? predictorProbes(config.predictor, () => ctx.now())
      : [{ backend: 'predictor', missing: 'PREDICTOR_URL' }]),
    config.github.token ? githubProbe(config) : { backend: 'github', missing: 'GITHUB_TOKEN' },
    config.openai.apiKey || config.openai.baseUrl
      ? openAiProbe(config)
      : { backend: 'llm', missing: 'OPENAI_API_KEY or OPENAI_BASE_URL' },
  ];
}

function prometheusProbe(settings: NonNullable<Config['prometheus']>): Probe {
  return {
    backend: 'prometheus',
    run: async () => {
      // A client of its own, with the probe's deadline as its timeout: a caller's abort signal instead would
      // report a hang as "cancelled by the client".
      const prometheus = createPrometheusClient({
        url: settings.url,
        timeoutMs: PROBE_TIMEOUT_MS,
        maxResponseBytes: 1024 * 1024,
        headers: settings.headers,
      });
      try {
        const info = await prometheus.buildInfo();
        return `Prometheus ${info.version} at ${prometheus.describe()}`;
      } finally {
        await prometheus.close();
      }
    },
  };
}

function lokiProbe(settings: NonNullable<Config['loki']>): Probe {
  return {
    backend: 'loki',
    run: () =>
      // The headers too: a multi-tenant or authenticating Loki refuses /ready without them.
      withBackend(backend('Loki', 'LOKI_URL', settings.url, settings.headers), async http => {
        const response = await http.request({ path: '/ready' });
        expectOk(http, response.status, 'GET /ready');
        return `ready at ${http.describe()}`;
      }),
  };
}

/**
 * One probe per watched service (`predictor` for PREDICTOR_URL's, `predictor:<name>` for the others), judged as
 * predictor_health judges it: ok when healthy, degraded with the reasons, failing when down or when /health is not
 * a JSON object (a login page, the wrong URL), which predictor_health could never read a status from.
 */
function predictorProbes(settings: NonNullable<Config['predictor']>, now: () => number): Probe[] {
  return [DEFAULT_TARGET, ...Object.keys(settings.targets)].map(target => ({
    backend: target === DEFAULT_TARGET ? 'predictor' : `predictor:${target}`,
    run: async () => {
      const predictor = createPredictorClient({
        url: settings.url,
        targets: settings.targets,
        timeoutMs: Math.min(settings.timeoutMs, PROBE_TIMEOUT_MS),
      });
      try {
        const probe = await predictor.probe(target);
        const { status, reasons } = assess(probe, undefined, now(), settings);
        const where = predictor.describe(target);
        const why = reasons.join('; ');
        if (status === 'down') throw new ToolError('BACKEND_ERROR', `down at ${where}: ${why}`);
        if (!healthFields(probe.health.body).fields)
          throw new ToolError('BACKEND_ERROR', `no readable /health at ${where}: ${why}`);
        return status === 'healthy' ? `healthy at ${where}` : { degraded: `at ${where}: ${why}` };
      } finally {
        await predictor.close();
      }
    },
  }));
}

function githubProbe(config: Config): Probe {
  return {
    backend: 'github',
    run: () =>
      withBackend(
        backend('GitHub', 'GITHUB_API_URL', config.github.apiUrl, {
          authorization: `Bearer ${config.github.token ?? ''}`,
          accept: 'application/vnd.github+json',
          'x-github-api-version': '2022-11-28',
        }),
        async http => {
          const response = await http.request({ path: '/rate_limit' });
          if (response.status === 401)
            throw new ToolError('BACKEND_ERROR', 'GitHub rejected GITHUB_TOKEN (HTTP 401)');
          expectOk(http, response.status, 'GET /rate_limit');
          // GitHub Enterprise serves its API under /api/v3, and its web pages (200 too) everywhere else.
          const api =
            new URL(config.github.apiUrl).hostname === 'api.github.com'
              ? undefined
              : likelyUrl(config.github.apiUrl, '/api/v3');
          const { rate } = answerOf(
            response.body,
            rateLimitSchema,
            `GITHUB_API_URL answered HTTP ${response.status} with a body that is not GitHub's /rate_limit (${api === undefined ? 'is it the GitHub API?' : `is it ${api}?`})`,
          );
          return `token accepted at ${http.describe()}, ${rate.remaining}/${rate.limit} requests left`;
        },
      ),
  };
}

function openAiProbe(config: Config): Probe {
  const baseUrl = config.openai.baseUrl ?? 'https://api.openai.com/v1';
  const headers: Record<string, string> = config.openai.apiKey
    ? { authorization: `Bearer ${config.openai.apiKey}` }
    : {};
  return {
    backend: 'llm',
    run: () =>
      withBackend(backend('The LLM endpoint', 'OPENAI_BASE_URL', baseUrl, headers), async http => {
        const response = await http.request({ path: '/models' });
        if (response.status === 401)
          throw new ToolError('BACKEND_ERROR', 'the LLM endpoint rejected OPENAI_API_KEY (HTTP 401)');
        expectOk(http, response.status, 'GET /models');
        // OpenAI-compatible servers (Ollama, vLLM, LiteLLM) serve the API under /v1.
        const api = likelyUrl(baseUrl, '/v1');
        const { data } = answerOf(
          response.body,
          modelsSchema,
          `OPENAI_BASE_URL answered HTTP ${response.status} with a body that is not an OpenAI-compatible /models list (${api === undefined ? 'is it an OpenAI-compatible API?' : `is it ${api}?`})`,
        );
        const ids = data.map(m => m.id);
        const model = config.openai.model;
        if (!ids.includes(model)) {
          throw new ToolError(
            'BACKEND_ERROR',
            `DEVOPS_MCP_MODEL ${model} is not among the ${ids.length} models served`,
          );
        }
        return `${model} available at ${http.describe()}`;
      }),
  };
}
