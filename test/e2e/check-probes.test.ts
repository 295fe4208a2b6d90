// `devops-mcp check` against backends that need credentials, and watched services that answer without being healthy.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, run } from '../support/bin.ts';

const LOKI_TOKEN = 'Bearer lokiProxyTokenABC123xyz';

let fake: Server;
let fakeUrl: string;
let dir: string;
/** The headers of every request, by path. */
const seen = new Map<string, IncomingHttpHeaders>();

beforeAll(async () => {
  // Each path prefix is a backend of its own: /prom a Prometheus, /loki a Loki behind an authenticating proxy,
  // /up, /slow, /down and /html watched services answering 200 to /health, and /ghe a GitHub Enterprise whose API
  // is under /api/v3 and whose web pages answer 200 anywhere else, as /page and /null do with HTML and JSON null.
  fake = createServer((req, res) => {
    const url = req.url ?? '';
    seen.set(url, req.headers);
    const json = (body: unknown) =>
      res.setHeader('content-type', 'application/json').end(JSON.stringify(body));
    if (url === '/prom/api/v1/status/buildinfo') json({ status: 'success', data: { version: '2.53.0' } });
    else if (url.startsWith('/loki/')) {
      if (req.headers.authorization !== LOKI_TOKEN || req.headers['x-scope-orgid'] !== 'team-a')
        res.writeHead(401).end('unauthorized');
      else res.end('ready\n');
    } else if (url === '/up/health') json({ status: 'ok' });
    else if (url === '/slow/health') json({ status: 'degraded', checks: { cache: 'failing' } });
    else if (url === '/down/health') json({ status: 'down', checks: { model: 'failing' } });
    else if (url === '/html/health')
      res.setHeader('content-type', 'text/html').end('<html><body>login</body></html>');
    else if (url === '/ghe/api/v3/rate_limit')
      json({ rate: { limit: 5000, remaining: 4999, reset: 0, used: 1 } });
    else if (url.startsWith('/ghe/') || url.startsWith('/page/'))
      res.setHeader('content-type', 'text/html').end('<html><body>Sign in</body></html>');
    else if (url.startsWith('/null/')) json(null);
    else if (url === '/objects/v1/models') json({ data: { id: 'gpt-4o-mini' } });
    else if (url.endsWith('/metrics')) res.end('# no traffic yet\n');
    else res.writeHead(404).end('nope');
  });
  await new Promise<void>(resolve => fake.listen(0, '127.0.0.1', resolve));
  fakeUrl = `http://127.0.0.1:${(fake.address() as { port: number }).port}`;
  dir = await mkdtemp(join(tmpdir(), 'devops-mcp-check-'));
});

afterAll(async () => {
  fake.close();
  await rm(dir, { recursive: true, force: true });
});

const line = (output: string, backend: string) =>
  output.split('\n').find(l => l.startsWith(`${backend} `)) ?? '';

async function configFile(name: string, settings: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify(settings));
  return file;
}

describe('devops-mcp check', () => {
  it('sends a backend URL password with a stray % as written instead of crashing', async () => {
    const result = await run(
      ['check'],
      cleanEnv({ PROMETHEUS_URL: `http://admin:S3cr%zzetPassw0rd@${fakeUrl.slice('http://'.length)}/prom` }),
    );
    expect(result.stderr).not.toContain('URIError');
    expect(result.code).toBe(0);
    expect(line(result.stdout, 'prometheus')).toMatch(/ok\s+Prometheus 2\.53\.0 at/);
    const sent = seen.get('/prom/api/v1/status/buildinfo')?.authorization;
    expect(sent).toBe(`Basic ${Buffer.from('admin:S3cr%zzetPassw0rd').toString('base64')}`);
  });

  it("sends loki.headers with Loki's probe", async () => {
    const file = await configFile('loki.json', {
      loki: { url: `${fakeUrl}/loki`, headers: { Authorization: LOKI_TOKEN, 'X-Scope-OrgID': 'team-a' } },
    });
    const result = await run(['check'], cleanEnv({ DEVOPS_MCP_CONFIG: file }));
    expect(line(result.stdout, 'loki')).toMatch(/ok\s+ready at/);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('lokiProxyToken');
  });

  it('fails a watched service whose /health reports it down, with the reason', async () => {
    const result = await run(['check'], cleanEnv({ PREDICTOR_URL: `${fakeUrl}/down` }));
    expect(result.code).toBe(1);
    expect(line(result.stdout, 'predictor')).toMatch(
      /failing\s+down at http:\/\/127\.0\.0\.1:\d+\/down: \/health answered HTTP 200 with status "down"; check model fails/,
    );
  });

  it('fails a watched service whose /health answers with a page that is not JSON', async () => {
    const result = await run(['check'], cleanEnv({ PREDICTOR_URL: `${fakeUrl}/html` }));
    expect(result.code).toBe(1);
    expect(line(result.stdout, 'predictor')).toMatch(
      /failing\s+no readable \/health at .*\/html: \/health answered HTTP 200 with a body that is not JSON/,
    );
  });

  it('shows a degraded service as degraded, with the reasons, without failing the check', async () => {
    const result = await run(['check'], cleanEnv({ PREDICTOR_URL: `${fakeUrl}/slow` }));
    expect(result.code).toBe(0);
    expect(line(result.stdout, 'predictor')).toMatch(
      /degraded\s+at .*\/slow: the service reports status "degraded"; check cache fails \(\d+ ms\)/,
    );
  });

  it('prints one line for each predictor target, each judged on its own', async () => {
    const file = await configFile('targets.json', {
      predictor: { url: `${fakeUrl}/up`, targets: { checkout: `${fakeUrl}/down`, search: `${fakeUrl}/up` } },
    });
    const result = await run(['check'], cleanEnv({ DEVOPS_MCP_CONFIG: file }));
    expect(result.code).toBe(1);
    expect(line(result.stdout, 'predictor')).toMatch(/ok\s+healthy at .*\/up \(\d+ ms\)/);
    expect(line(result.stdout, 'predictor:checkout')).toMatch(/failing\s+down at .*\/down:/);
    expect(line(result.stdout, 'predictor:search')).toMatch(/ok\s+healthy at .*\/up/);
  });

  it('fails GitHub and the LLM endpoint answering 200 with something else, naming the setting, not a JS error', async () => {
    const check = async (github: string, llm: string) => {
      const result = await run(
        ['check'],
        cleanEnv({
          GITHUB_TOKEN: 'ghp_checkProbeToken0123456789',
          GITHUB_API_URL: github,
          OPENAI_API_KEY: 'sk-checkProbe0123456789',
          OPENAI_BASE_URL: llm,
        }),
      );
      expect(result.code).toBe(1);
      return { github: line(result.stdout, 'github'), llm: line(result.stdout, 'llm') };
    };
    const pages = await check(`${fakeUrl}/ghe`, `${fakeUrl}/page`);
    expect(pages.github).toMatch(
      new RegExp(
        `failing\\s+GITHUB_API_URL answered HTTP 200 with a body that is not GitHub's /rate_limit \\(is it ${fakeUrl}/api/v3\\?\\)$`,
      ),
    );
    expect(pages.llm).toMatch(
      new RegExp(
        `failing\\s+OPENAI_BASE_URL answered HTTP 200 with a body that is not an OpenAI-compatible /models list \\(is it ${fakeUrl}/v1\\?\\)$`,
      ),
    );
    // JSON of another shape is not taken for a token accepted with "?/? requests left".
    const other = await check(`${fakeUrl}/null/api/v3`, `${fakeUrl}/objects/v1`);
    expect(other.github).toMatch(
      /failing\s+GITHUB_API_URL answered HTTP 200 with a body that is not GitHub's \/rate_limit \(is it the GitHub API\?\)$/,
    );
    expect(other.llm).toMatch(
      /failing\s+OPENAI_BASE_URL answered HTTP 200 with a body that is not an OpenAI-compatible \/models list \(is it an OpenAI-compatible API\?\)$/,
    );
    // Given its API under /api/v3, the same GitHub passes.
    expect((await check(`${fakeUrl}/ghe/api/v3`, `${fakeUrl}/page`)).github).toMatch(
      /ok\s+token accepted at .*\/ghe\/api\/v3, 4999\/5000 requests left/,
    );
  });
});
