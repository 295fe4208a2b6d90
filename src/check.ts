// `devops-mcp check`: probes every configured backend and reports one line each.

import { createPrometheusClient } from './clients/prometheus.ts';
import type { Config } from './config.ts';
import type { Context } from './context.ts';
import { ToolError } from './lib/errors.ts';
import { createHttpBackend, type HttpBackend } from './lib/http.ts';

export interface CheckResult {
  backend: string;
  status: 'ok' | 'failing' | 'not configured';
  detail: string;
}

interface Probe {
  backend: string;
  /** The setting to name when it is missing; undefined when the backend is configured. */
  missing?: string;
  run?: () => Promise<string>;
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
        const detail = await probe.run();
        return {
          backend: probe.backend,
          status: 'ok',
          detail: `${detail} (${Math.round(performance.now() - started)} ms)`,
        };
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

function probesFor(ctx: Context): Probe[] {
  const { config } = ctx;
  return [
    config.prometheus
      ? prometheusProbe(config.prometheus)
      : { backend: 'prometheus', missing: 'PROMETHEUS_URL' },
    config.loki
      ? {
          backend: 'loki',
          run: () =>
            withBackend(backend('Loki', 'LOKI_URL', config.loki?.url ?? ''), async http => {
              const response = await http.request({ path: '/ready' });
              expectOk(http, response.status, 'GET /ready');
              return `ready at ${http.describe()}`;
            }),
        }
      : { backend: 'loki', missing: 'LOKI_URL' },
    config.predictor
      ? {
          backend: 'predictor',
          run: () =>
            withBackend(backend('Predictor', 'PREDICTOR_URL', config.predictor?.url ?? ''), async http => {
              const response = await http.request({ path: '/health' });
              expectOk(http, response.status, 'GET /health');
              return `healthy at ${http.describe()}`;
            }),
        }
      : { backend: 'predictor', missing: 'PREDICTOR_URL' },
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
          const body = JSON.parse(response.body.toString('utf8')) as {
            rate?: { remaining?: number; limit?: number };
          };
          return `token accepted at ${http.describe()}, ${body.rate?.remaining ?? '?'}/${body.rate?.limit ?? '?'} requests left`;
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
        const body = JSON.parse(response.body.toString('utf8')) as { data?: Array<{ id?: string }> };
        const ids = (body.data ?? []).map(m => m.id);
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
