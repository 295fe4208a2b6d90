import { describe, expect, it } from 'vitest';
import { loadConfig, secretSourcesOf, secretsOf } from '../../src/config.ts';
import { configError } from '../support/config.ts';

const files = (contents: Record<string, string>) => (path: string) => {
  const text = contents[path];
  if (text === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
  return text;
};

describe('loadConfig', () => {
  it('gives working defaults with an empty environment', async () => {
    const config = await loadConfig({ env: {} });
    expect(config.prometheus).toBeUndefined();
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8811 });
    expect(config.output.maxBytes).toBe(8192);
    expect(config.logLevel).toBe('info');
    expect(config.github.apiUrl).toBe('https://api.github.com');
  });

  it('reads every public environment variable', async () => {
    const config = await loadConfig({
      env: {
        PROMETHEUS_URL: 'http://127.0.0.1:9090',
        LOKI_URL: 'http://127.0.0.1:3100',
        PREDICTOR_URL: 'http://127.0.0.1:8080',
        GITHUB_TOKEN: 'ghp_secretsecret',
        GITHUB_API_URL: 'https://ghe.example.com/api/v3',
        DEVOPS_MCP_ALLOWED_REPOS: ' acme/predictor , acme/* ,',
        DEVOPS_MCP_HTTP_TOKEN: 'a-long-enough-http-token',
        OPENAI_API_KEY: 'sk-test-key',
        OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
        DEVOPS_MCP_MODEL: 'llama3.1',
        LOG_LEVEL: 'debug',
      },
    });
    expect(config.prometheus?.url).toBe('http://127.0.0.1:9090');
    expect(config.loki?.url).toBe('http://127.0.0.1:3100');
    expect(config.predictor?.url).toBe('http://127.0.0.1:8080');
    expect(config.github).toEqual({
      token: 'ghp_secretsecret',
      apiUrl: 'https://ghe.example.com/api/v3',
      timeoutMs: 15_000,
      writeSpacingMs: 1000,
    });
    expect(config.allowedRepos).toEqual(['acme/predictor', 'acme/*']);
    expect(config.http.token).toBe('a-long-enough-http-token');
    expect(config.openai).toEqual({
      apiKey: 'sk-test-key',
      baseUrl: 'http://127.0.0.1:11434/v1',
      model: 'llama3.1',
    });
    expect(config.logLevel).toBe('debug');
  });

  it('merges a YAML file under the environment, which wins', async () => {
    const config = await loadConfig({
      env: { DEVOPS_MCP_CONFIG: '/etc/devops-mcp.yaml', PROMETHEUS_URL: 'http://127.0.0.1:9999' },
      readFile: files({
        '/etc/devops-mcp.yaml':
          'prometheus:\n  url: http://prom:9090\n  timeoutMs: 2000\noutput:\n  maxBytes: 4096\n',
      }),
    });
    expect(config.prometheus).toMatchObject({ url: 'http://127.0.0.1:9999', timeoutMs: 2000 });
    expect(config.output.maxBytes).toBe(4096);
  });

  it('names the environment variable of a bad value', async () => {
    const message = await configError(
      loadConfig({ env: { PROMETHEUS_URL: 'localhost:9090', LOG_LEVEL: 'loud' } }),
    );
    expect(message).toContain('PROMETHEUS_URL: must be an http:// or https:// URL (got "localhost:9090")');
    expect(message).toContain('LOG_LEVEL');
  });

  it('names the key and the file for a bad value in the file, and unknown keys', async () => {
    const message = await configError(
      loadConfig({
        env: { DEVOPS_MCP_CONFIG: 'c.json' },
        readFile: files({ 'c.json': '{"http":{"port":"abc"},"promethues":{}}' }),
      }),
    );
    expect(message).toContain('http.port in c.json');
    expect(message).toContain('unknown setting(s): promethues');
  });

  it('asks for the URL when a backend section has none', async () => {
    const message = await configError(
      loadConfig({
        env: { DEVOPS_MCP_CONFIG: 'c.json' },
        readFile: files({ 'c.json': '{"prometheus":{"timeoutMs":500}}' }),
      }),
    );
    expect(message).toContain('required (set PROMETHEUS_URL)');
  });

  it('masks the user and password of a URL it rejects', async () => {
    const message = await configError(
      loadConfig({
        env: { PROMETHEUS_URL: 'prom.internal:9090@x', LOKI_URL: 'http://admin:pa#ss/Secret42@loki:3100' },
      }),
    );
    expect(message).toContain('LOKI_URL');
    expect(message).toContain('(got "http://***@loki:3100")');
    expect(message).not.toContain('Secret42');
    const more = await configError(
      loadConfig({
        env: {
          PROMETHEUS_URL: 'https://prom.example/api?access_token=glc_SECRETSECRET',
          LOKI_URL: 'user:pa55word@loki.example:3100',
        },
      }),
    );
    expect(more).toContain('(got "https://prom.example/api?…")');
    expect(more).toContain('(got "***@loki.example:3100")');
    expect(more).not.toMatch(/SECRETSECRET|pa55word/);
  });

  it('refuses settings that contradict each other or would be dropped silently', async () => {
    const message = await configError(
      loadConfig({
        env: { DEVOPS_MCP_CONFIG: 'c.json', PROMETHEUS_URL: 'http://127.0.0.1:9090/?tenant=a' },
        readFile: files({
          'c.json': JSON.stringify({
            prometheus: { targetPoints: 2000, maxPoints: 1000 },
            loki: { url: 'http://127.0.0.1:3100', maxEntriesLimit: 1 },
          }),
        }),
      }),
    );
    expect(message).toContain('PROMETHEUS_URL: must not carry a query string');
    expect(message).toContain('prometheus.targetPoints in c.json: must not exceed prometheus.maxPoints');
    expect(message).toContain('loki.maxEntriesLimit in c.json');
  });

  it('refuses an HTTP token that no Authorization header could carry', async () => {
    const message = await configError(
      loadConfig({ env: { DEVOPS_MCP_HTTP_TOKEN: 'correct horse battery staple' } }),
    );
    expect(message).toContain('DEVOPS_MCP_HTTP_TOKEN: may hold only letters, digits');
    expect(message).not.toContain('horse');
  });

  it('never prints a secret it rejects', async () => {
    const message = await configError(loadConfig({ env: { DEVOPS_MCP_HTTP_TOKEN: 'short-secret' } }));
    expect(message).toContain('DEVOPS_MCP_HTTP_TOKEN: must be at least 16 characters');
    expect(message).not.toContain('short-secret');
  });

  it('never prints secrets that sit beside an unknown key, from the file or the environment', async () => {
    const message = await configError(
      loadConfig({
        env: {
          DEVOPS_MCP_CONFIG: 'c.yaml',
          GITHUB_TOKEN: 'ghp_envSecret0123456789',
          OPENAI_API_KEY: 'sk-envSecret0123',
        },
        readFile: files({
          'c.yaml':
            'http:\n  token: file-http-token-0123456789\n  prot: 1\nprometheus_url: http://x\nsandbox:\n  receiptKey: short\nprometheus:\n  url: http://127.0.0.1:9090\n  headers: { Authorization: 7 }\n',
        }),
      }),
    );
    expect(message).toContain('unknown setting(s): prometheus_url');
    expect(message).toContain('unknown setting(s): prot');
    expect(message).toContain('sandbox.receiptKey in c.yaml: must be at least 32 characters');
    for (const secret of [
      'ghp_envSecret0123456789',
      'sk-envSecret0123',
      'file-http-token-0123456789',
      'short',
    ]) {
      expect(message).not.toContain(secret);
    }
  });

  it('rejects malformed repository patterns', async () => {
    const message = await configError(
      loadConfig({ env: { DEVOPS_MCP_ALLOWED_REPOS: 'acme/predictor,../etc' } }),
    );
    expect(message).toContain('DEVOPS_MCP_ALLOWED_REPOS: must be owner/repo or owner/*');
  });

  it('reports a missing or unparsable file by name', async () => {
    expect(
      await configError(loadConfig({ env: { DEVOPS_MCP_CONFIG: 'nope.yaml' }, readFile: files({}) })),
    ).toContain('cannot read nope.yaml: no such file');
    expect(
      await configError(
        loadConfig({ env: { DEVOPS_MCP_CONFIG: 'bad.yaml' }, readFile: files({ 'bad.yaml': 'a: [1,' }) }),
      ),
    ).toContain('bad.yaml is not valid YAML');
    expect(
      await configError(
        loadConfig({ env: { DEVOPS_MCP_CONFIG: 'list.yaml' }, readFile: files({ 'list.yaml': '- 1\n' }) }),
      ),
    ).toContain('must hold an object');
  });

  it('lets command-line flags win and names them', async () => {
    const config = await loadConfig({
      env: {},
      overrides: [{ path: ['http', 'port'], value: 9000, flag: '--port' }],
    });
    expect(config.http.port).toBe(9000);
    const message = await configError(
      loadConfig({ env: {}, overrides: [{ path: ['http', 'port'], value: 'x', flag: '--port' }] }),
    );
    expect(message).toContain('--port:');
  });

  it('collects secrets, including passwords in backend URLs', async () => {
    const config = await loadConfig({
      env: {
        GITHUB_TOKEN: 'ghp_abcdef',
        PROMETHEUS_URL: 'http://user:p%40ss@127.0.0.1:9090',
        GITHUB_API_URL: 'https://proxy:Sup3rSecretPw@ghe.example/api/v3',
      },
    });
    expect(secretsOf(config)).toEqual(
      expect.arrayContaining(['ghp_abcdef', 'p@ss', 'p%40ss', 'Sup3rSecretPw']),
    );
  });

  it("collects the credentials of OPENAI_BASE_URL's and the predictor targets' URLs, and a token as user name", async () => {
    const config = await loadConfig({
      env: {
        DEVOPS_MCP_CONFIG: 'c.json',
        OPENAI_BASE_URL: 'https://llm:0penAi%2FPw@llm.example/v1',
        PREDICTOR_URL: 'http://ghp_UserT0kenDDDDDDDDDDDDDDDD@127.0.0.1:8000',
      },
      readFile: files({
        'c.json': JSON.stringify({
          predictor: {
            url: 'http://127.0.0.1:8000',
            targets: {
              api: 'http://svc:T4rgetPw@api.internal:8080',
              web: 'https://glpat-AbCdEf0123456789xyz:x-oauth-basic@web.internal',
            },
          },
          github: { apiUrl: 'https://prometheus:GhePw99@ghe.example/api/v3' },
        }),
      }),
    });
    const secrets = secretsOf(config);
    expect(secrets).toEqual(
      expect.arrayContaining([
        '0penAi%2FPw',
        '0penAi/Pw',
        'ghp_UserT0kenDDDDDDDDDDDDDDDD',
        'T4rgetPw',
        'glpat-AbCdEf0123456789xyz',
        'x-oauth-basic',
        'GhePw99',
      ]),
    );
    // Plain user names beside a password are no secret: "prometheus" would blank every metric name spelled so.
    for (const name of ['llm', 'svc', 'prometheus']) expect(secrets).not.toContain(name);
  });

  it('says which setting each secret comes from, for a refusal to name instead of the value', async () => {
    const config = await loadConfig({
      env: {
        DEVOPS_MCP_CONFIG: 'c.json',
        GITHUB_TOKEN: 'ghp_abcdef',
        PROMETHEUS_URL: 'http://prometheus:prom%40pw@127.0.0.1:9090',
        PREDICTOR_URL: 'http://ghp_UserT0kenDDDDDDDDDDDDDDDD@127.0.0.1:8000',
      },
      readFile: files({
        'c.json': JSON.stringify({
          predictor: { targets: { api: 'http://svc:T4rgetPw@api.internal:8080' } },
          loki: { url: 'http://127.0.0.1:3100', headers: { Authorization: 'Bearer loki-secret-BBBB' } },
        }),
      }),
    });
    const sources = secretSourcesOf(config);
    expect(sources).toEqual(
      expect.arrayContaining([
        { value: 'ghp_abcdef', from: 'the GitHub token (GITHUB_TOKEN)' },
        { value: 'prom%40pw', from: 'the password in PROMETHEUS_URL' },
        { value: 'prom@pw', from: 'the password in PROMETHEUS_URL' },
        { value: 'ghp_UserT0kenDDDDDDDDDDDDDDDD', from: 'the user name in PREDICTOR_URL' },
        { value: 'T4rgetPw', from: 'the password in predictor.targets.api' },
        { value: 'Bearer loki-secret-BBBB', from: 'the Authorization header in loki.headers' },
        { value: 'loki-secret-BBBB', from: 'the Authorization header in loki.headers' },
      ]),
    );
    // The same values, in the same order, as the redactor is given.
    expect(sources.map(source => source.value)).toEqual(secretsOf(config));
  });

  it('takes a user name standing alone for a secret only when it looks like a token', async () => {
    const standing = async (name: string) =>
      secretsOf(await loadConfig({ env: { PROMETHEUS_URL: `http://${name}@prom.internal:9090` } }));
    // "prometheus" as a secret would blank job="prometheus" and every prometheus_* metric name.
    for (const name of ['prometheus', 'admin', 'ollama', 'grafana_agent', 'service-account-reader'])
      expect(await standing(name)).toEqual([]);
    for (const token of [
      'ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ',
      'aBcDeFgHiJkLmNoPqRsTuVwXyZabcdef',
      '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b',
      'AbC+dEf1234567890abcdefg=',
    ])
      expect(await standing(token)).toContain(token);
  });

  it('keeps a password with a stray % as written', async () => {
    const config = await loadConfig({ env: { PROMETHEUS_URL: 'http://u:p%zzword@127.0.0.1:9090' } });
    expect(secretsOf(config)).toContain('p%zzword');
  });

  it('counts only credential headers as secrets, not a tenant id', async () => {
    const config = await loadConfig({
      env: { DEVOPS_MCP_CONFIG: 'c.json' },
      readFile: files({
        'c.json': JSON.stringify({
          prometheus: {
            url: 'http://127.0.0.1:9090',
            headers: { 'X-Scope-OrgID': '1234', Authorization: 'Bearer tok-abc-123' },
          },
          loki: { url: 'http://127.0.0.1:3100', headers: { 'X-Api-Key': 'loki-key-9' } },
        }),
      }),
    });
    const secrets = secretsOf(config);
    expect(secrets).toEqual(expect.arrayContaining(['Bearer tok-abc-123', 'loki-key-9']));
    expect(secrets).not.toContain('1234');
  });

  it("keeps each backend's credential header, and the credential after its scheme", async () => {
    const config = await loadConfig({
      env: { DEVOPS_MCP_CONFIG: 'c.json' },
      readFile: files({
        'c.json': JSON.stringify({
          prometheus: { url: 'http://127.0.0.1:9090', headers: { Authorization: 'Bearer prom-secret-AAAA' } },
          loki: {
            url: 'http://127.0.0.1:3100',
            headers: { Authorization: ' Bearer loki-secret-BBBB ', 'X-Auth-User': 'Jane Smith' },
          },
        }),
      }),
    });
    expect(secretsOf(config)).toEqual(
      expect.arrayContaining([
        'Bearer prom-secret-AAAA',
        'prom-secret-AAAA',
        'Bearer loki-secret-BBBB',
        'loki-secret-BBBB',
      ]),
    );
    expect(secretsOf(config)).not.toContain('Smith');
  });
});
