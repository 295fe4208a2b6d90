import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, run } from '../support/bin.ts';
import { freePort } from '../support/ports.ts';
import { startPrometheus, type PrometheusServer } from '../support/prometheus.ts';

let prometheus: PrometheusServer;
let fake: Server;
let fakeUrl: string;
let dir: string;

beforeAll(async () => {
  prometheus = await startPrometheus();
  // Stands in for Loki's /ready, a predictor's /health and /metrics, and an OpenAI-compatible /v1/models.
  fake = createServer((req, res) => {
    if (req.url === '/ready') res.end('ready\n');
    else if (req.url === '/health') res.end('{"status":"ok"}');
    else if (req.url === '/metrics') res.end('# no traffic yet\n');
    else if (req.url === '/v1/models')
      res.end('{"object":"list","data":[{"id":"llama3.1","object":"model"}]}');
    else res.writeHead(500).end('boom');
  });
  await new Promise<void>(resolve => fake.listen(0, '127.0.0.1', resolve));
  fakeUrl = `http://127.0.0.1:${(fake.address() as { port: number }).port}`;
  dir = await mkdtemp(join(tmpdir(), 'devops-mcp-cli-'));
});

afterAll(async () => {
  await prometheus.stop();
  fake.close();
  await rm(dir, { recursive: true, force: true });
});

const line = (output: string, backend: string) =>
  output.split('\n').find(l => l.startsWith(`${backend} `)) ?? '';

describe('devops-mcp check', () => {
  it('prints one line per backend and exits 0 when every configured one answers', async () => {
    const result = await run(
      ['check'],
      cleanEnv({
        PROMETHEUS_URL: prometheus.url,
        LOKI_URL: fakeUrl,
        PREDICTOR_URL: fakeUrl,
        OPENAI_BASE_URL: `${fakeUrl}/v1`,
        DEVOPS_MCP_MODEL: 'llama3.1',
      }),
    );
    expect(result.code).toBe(0);
    expect(line(result.stdout, 'prometheus')).toMatch(/ok\s+Prometheus 2\.\d+\.\d+/);
    expect(line(result.stdout, 'loki')).toMatch(/ok\s+ready at/);
    expect(line(result.stdout, 'predictor')).toMatch(/ok\s+healthy at/);
    expect(line(result.stdout, 'llm')).toMatch(/ok\s+llama3\.1 available/);
    expect(line(result.stdout, 'github')).toMatch(/not configured\s+set GITHUB_TOKEN/);
  });

  it('exits 1 and says why when a configured backend fails', async () => {
    const dead = await freePort();
    const result = await run(
      ['check'],
      cleanEnv({
        PROMETHEUS_URL: `http://127.0.0.1:${dead}`,
        OPENAI_BASE_URL: `${fakeUrl}/v1`,
        DEVOPS_MCP_MODEL: 'gpt-x',
      }),
    );
    expect(result.code).toBe(1);
    expect(line(result.stdout, 'prometheus')).toMatch(
      /failing\s+Prometheus is unreachable: connection refused/,
    );
    expect(line(result.stdout, 'llm')).toMatch(
      /failing\s+DEVOPS_MCP_MODEL gpt-x is not among the 1 models served/,
    );
  });

  it('reports a backend that never answers as a timeout, not as cancelled', async () => {
    const hang = createServer(() => {
      // Never answers.
    });
    await new Promise<void>(resolve => hang.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hang.address() as { port: number }).port}`;
    try {
      const result = await run(['check'], cleanEnv({ PROMETHEUS_URL: url, LOKI_URL: url }));
      expect(result.code).toBe(1);
      expect(line(result.stdout, 'prometheus')).toMatch(/failing\s+Prometheus did not answer within 5000 ms/);
      expect(line(result.stdout, 'loki')).toMatch(/failing\s+Loki did not answer within 5000 ms/);
    } finally {
      hang.closeAllConnections();
      hang.close();
    }
  });

  it('exits 0 with nothing configured', async () => {
    const result = await run(['check'], cleanEnv());
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n').filter(Boolean)).toHaveLength(5);
  });
});

describe('configuration errors stop the start', () => {
  it('names a bad environment variable', async () => {
    const result = await run(['serve'], cleanEnv({ PROMETHEUS_URL: 'ftp://prometheus' }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('PROMETHEUS_URL: must be an http:// or https:// URL');
    expect(result.stdout).toBe('');
  });

  it('names the key and the file for bad or unknown keys in a YAML file', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'http:\n  port: abc\nprometheus:\n  url: http://127.0.0.1:9090\n  timeout: 5\n');
    const result = await run(['serve'], cleanEnv({ DEVOPS_MCP_CONFIG: file }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`http.port in ${file}`);
    expect(result.stderr).toContain('unknown setting(s): timeout');
  });

  it('never prints a line of a config file it cannot parse, warnings included', async () => {
    const file = join(dir, 'secret.yaml');
    // An unknown tag is only a warning, which YAML prints with the line it is about; the quote is an error.
    await writeFile(file, 'github:\n  token: !vault ghp_SECRETtoken0123456789\nlogLevel: "info\n');
    const result = await run(['serve'], cleanEnv({ DEVOPS_MCP_CONFIG: file }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file} is not valid YAML: Missing closing "quote at line 4, column 1`);
    expect(result.stderr).not.toContain('SECRET');
  });

  it('prints usage for unknown commands and flags', async () => {
    expect((await run(['launch'], cleanEnv())).code).toBe(2);
    const flag = await run(['serve', '--verbose'], cleanEnv());
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--verbose'");
    expect((await run(['--version'], cleanEnv())).stdout.trim()).toBe('0.1.0');
  });
});
