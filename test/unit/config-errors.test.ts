import { describe, expect, it } from 'vitest';
import { loadConfig, secretsOf } from '../../src/config.ts';
import { createPredictorClient } from '../../src/clients/predictor.ts';
import { configError } from '../support/config.ts';

const fromFile = (path: string, text: string) =>
  loadConfig({ env: { DEVOPS_MCP_CONFIG: path }, readFile: () => text });

describe('a config file that does not parse', () => {
  it('gives the line and column of a YAML error, never the line itself', async () => {
    const quote = await configError(
      fromFile('c.yaml', 'github:\n  token: "ghp_SECRETtoken\nlogLevel: info\n'),
    );
    expect(quote).toBe(
      'DEVOPS_MCP_CONFIG: c.yaml is not valid YAML: Missing closing "quote at line 4, column 1',
    );
    const twice = await configError(
      fromFile('c.yaml', 'github:\n  token: ghp_SECRETone\n  token: ghp_SECRETtwo\n'),
    );
    expect(twice).toBe(
      'DEVOPS_MCP_CONFIG: c.yaml is not valid YAML: Map keys must be unique at line 3, column 3',
    );
  });

  it('does not quote what a YAML message would quote (an escape, a block header)', async () => {
    for (const text of ['a: "\\qSECRET"\n', 'a: |SECRET\n  b\n']) {
      const message = await configError(fromFile('c.yaml', text));
      expect(message).toMatch(/is not valid YAML: [a-z ]+ at line 1, column \d+$/);
      expect(message).not.toContain('SECRET');
    }
  });

  it("gives the line and column of a JSON error, never V8's excerpt of the file", async () => {
    const token = await configError(fromFile('c.json', '{"github":{"token":abcdefSECRETSECRET}}'));
    expect(token).toBe('DEVOPS_MCP_CONFIG: c.json is not valid JSON: unexpected token at line 1, column 20');
    const later = await configError(fromFile('c.json', '{\n  "github": {\n    "token": "x" "SECRET"}}'));
    expect(later).toBe(
      "DEVOPS_MCP_CONFIG: c.json is not valid JSON: Expected ',' or '}' after property value at line 3, column 18",
    );
    const cut = await configError(fromFile('c.json', '{"github": {"token": ['));
    expect(cut).toBe(
      'DEVOPS_MCP_CONFIG: c.json is not valid JSON: unexpected end of input at line 1, column 23',
    );
  });

  it('gives the position in a file nested thousands deep rather than overflowing the stack', async () => {
    const arrays = await configError(fromFile('c.json', '['.repeat(10_000)));
    expect(arrays).toBe(
      'DEVOPS_MCP_CONFIG: c.json is not valid JSON: unexpected end of input at line 1, column 10001',
    );
    const objects = await configError(fromFile('c.json', '{"a":'.repeat(10_000)));
    expect(objects).toBe(
      'DEVOPS_MCP_CONFIG: c.json is not valid JSON: unexpected end of input at line 1, column 50001',
    );
    const wrong = await configError(fromFile('c.json', `${'[{"a":'.repeat(5_000)}SECRET`));
    expect(wrong).toBe(
      'DEVOPS_MCP_CONFIG: c.json is not valid JSON: unexpected token at line 1, column 30001',
    );
  });

  it('does not quote a YAML directive it cannot use', async () => {
    for (const text of ['%YAML SECRET\n---\na: 1\n', '%YAML 1.SECRET\n---\na: 1\n']) {
      const message = await configError(fromFile('c.yaml', text));
      expect(message).toMatch(/is not valid YAML: bad directive at line 1, column \d+$/);
      expect(message).not.toContain('SECRET');
    }
  });
});

describe('a value of the wrong type', () => {
  it('is not echoed where a section or headers were expected, nor under a section holding secrets', async () => {
    const message = await configError(
      fromFile(
        'c.json',
        JSON.stringify({
          github: 'ghp_SECRETgithubToken0123',
          openai: 'sk-SECRETopenaiKey0123',
          prometheus: { url: 'http://127.0.0.1:9090', headers: 'Authorization: Bearer SECRETprom' },
          loki: { url: 'http://127.0.0.1:3100', headers: { Authorization: 42 } },
          http: { port: 'SECRETport' },
          sandbox: { images: 'SECRETimage' },
          logLevel: 'loud',
        }),
      ),
    );
    expect(message).toContain('github in c.json: Invalid input: expected object, received string');
    expect(message).toContain(
      'prometheus.headers in c.json: Invalid input: expected record, received string',
    );
    expect(message).toContain('loki.headers.Authorization in c.json');
    expect(message).toContain('http.port in c.json');
    expect(message).not.toContain('SECRET');
    expect(message).not.toContain('42');
    // A harmless scalar still is.
    expect(message).toContain('(got "loud")');
  });
});

describe('an unknown key under a section holding secrets', () => {
  it('is named only when it is spelled like a setting, since a YAML key may be a whole token: value', async () => {
    const message = await configError(
      fromFile(
        'c.yaml',
        [
          'github: {apiUrl: "https://api.github.com", token:ghp_SECRET9zQabcdefghijklmnop}',
          'openai: {apiKey=sk-SECRET9zQabcdefghijklmnop, modle: gpt}',
          'http: {port: 8080, ghp_SECRET9zQabcdefghijklmnopqrstu, x y: 1}',
          'agent: {tokne: 1}',
        ].join('\n'),
      ),
    );
    expect(message).toContain('github in c.yaml: 1 unknown setting (name not shown: it may hold a secret)');
    expect(message).toContain(
      'openai in c.yaml: unknown setting(s): modle; 1 more unknown setting (name not shown: it may hold a secret)',
    );
    expect(message).toContain('http in c.yaml: 2 unknown settings (names not shown: they may hold a secret)');
    expect(message).toContain('agent in c.yaml: unknown setting(s): tokne');
    expect(message).not.toContain('SECRET');
  });
});

describe('settings that would be dropped or overridden silently', () => {
  it('refuses a predictor target named default, which is PREDICTOR_URL', async () => {
    const message = await configError(
      loadConfig({
        env: { DEVOPS_MCP_CONFIG: 'c.json', PREDICTOR_URL: 'http://127.0.0.1:8080' },
        readFile: () => JSON.stringify({ predictor: { targets: { default: 'http://127.0.0.1:9999' } } }),
      }),
    );
    expect(message).toContain(
      `predictor.targets.default in c.json: "default" is the name of predictor.url's target (PREDICTOR_URL)`,
    );
    // Other names are fine, and PREDICTOR_URL stays the default target.
    const config = await loadConfig({
      env: { DEVOPS_MCP_CONFIG: 'c.json', PREDICTOR_URL: 'http://127.0.0.1:8080' },
      readFile: () => JSON.stringify({ predictor: { targets: { checkout: 'http://127.0.0.1:9999' } } }),
    });
    const client = createPredictorClient({ ...config.predictor!, timeoutMs: 100 });
    expect(client.targets()).toEqual(['default', 'checkout']);
    expect(client.describe('default')).toBe('http://127.0.0.1:8080');
    await client.close();
  });

  it('refuses two repository policies whose names differ only in case, naming both', async () => {
    const message = await configError(
      fromFile(
        'c.json',
        JSON.stringify({
          repos: {
            'Acme/App': { source: { github: {} }, pr: { requireReceipt: false } },
            'acme/app': { source: { github: {} } },
          },
        }),
      ),
    );
    expect(message).toContain('"Acme/App" and "acme/app" name the same repository');
    const one = await fromFile(
      'c.json',
      JSON.stringify({ repos: { 'Acme/App': { source: { github: {} } } } }),
    );
    expect(Object.keys(one.repos)).toEqual(['Acme/App']);
  });
});

describe('sandbox.limits', () => {
  it('takes one limit and keeps the defaults of the others', async () => {
    const config = await fromFile('c.yaml', 'sandbox:\n  limits:\n    memoryMb: 1024\n');
    expect(config.sandbox.limits).toEqual({
      memoryMb: 1024,
      cpus: 1,
      pids: 256,
      timeoutSeconds: 300,
      outputKb: 16,
      tmpfsMb: 256,
    });
    // A repository's limits stay only what it names: the ones it leaves out lower nothing.
    const repo = await fromFile(
      'c.yaml',
      'repos:\n  acme/app:\n    source: { github: {} }\n    limits: { cpus: 0.5 }\n',
    );
    expect(repo.repos['acme/app']?.limits).toEqual({ cpus: 0.5 });
  });
});

describe('a backend URL with a stray % in its userinfo', () => {
  it('counts the password as written among the secrets', async () => {
    const config = await loadConfig({ env: { LOKI_URL: 'http://admin:S3cr%zzetPassw0rd@127.0.0.1:3100' } });
    expect(secretsOf(config)).toContain('S3cr%zzetPassw0rd');
  });
});
