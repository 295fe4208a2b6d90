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
  // Each path prefix is a backend of its own: /prom a Prometheus, /loki a Loki behind an authenticating proxy, and
  // /up, /slow, /down and /html watched services answering 200 to /health.
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
});
