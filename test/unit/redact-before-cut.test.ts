// A configured secret inside backend data is scrubbed before the text is cut: a secret across a cut would otherwise
// go out as its unscrubbed first part, which the scrubbing of the finished result cannot recognise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGithubDouble, type GithubDouble } from '../doubles/github/index.ts';
import { startLokiDouble, type LokiDouble } from '../doubles/loki/index.ts';
import { connect, textOf, type Connected } from '../support/mcp.ts';

const PIECE = 10;

describe('search_loki', () => {
  const TOKEN = 'ghp_R3viewS3curityT0kenAAAAAAAAAAAAAAAAAAA';
  let loki: LokiDouble;
  let mcp: Connected;

  beforeAll(async () => {
    loki = await startLokiDouble();
    const ns = `${BigInt(Date.now()) * 1_000_000n}`;
    // The token starts 10 characters before the cut at 400, in a line and in a label value.
    loki.push([
      {
        stream: { service: 'ci' },
        values: [[ns, `${'x'.repeat(390)}${TOKEN} remote=https://github.com/a/b`]],
      },
      { stream: { service: 'ci2', remote: TOKEN }, values: [[ns, `token=${TOKEN}`]] },
    ]);
    mcp = await connect({ LOKI_URL: loki.url, GITHUB_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await mcp.close();
    await loki.close();
  });

  it('scrubs a log line before cutting it at 400 characters', async () => {
    const text = textOf(await mcp.call('search_loki', { query: '{service="ci"}' }));
    expect(text).not.toContain(TOKEN.slice(0, PIECE));
    expect(text).toContain(`${'x'.repeat(390)}[REDACTED]`);
  });

  it('scrubs label values and whole lines', async () => {
    const text = textOf(await mcp.call('search_loki', { query: '{service="ci2"}' }));
    expect(text).not.toContain(TOKEN.slice(0, PIECE));
    expect(text).toContain('token=[REDACTED]');
    expect(text).toContain('"remote":"[REDACTED]"');
  });
});

describe('read_repo', () => {
  let github: GithubDouble;
  let mcp: Connected;

  beforeAll(async () => {
    github = await startGithubDouble();
    // The result's budget for the text is output.maxBytes (8192) less 600: the token sits across the cut.
    await github.addRepo({
      owner: 'acme',
      name: 'app',
      files: { 'ci.log': `${'x'.repeat(7580)}${github.token}\n${'y'.repeat(5000)}\n` },
    });
    mcp = await connect({
      DEVOPS_MCP_ALLOWED_REPOS: 'acme/app',
      GITHUB_TOKEN: github.token,
      GITHUB_API_URL: github.url,
    });
  });
  afterAll(async () => {
    await mcp.close();
    await github.close();
  });

  it("scrubs a file's text before cutting it to the budget", async () => {
    const result = await mcp.call('read_repo', { repo: 'acme/app', path: 'ci.log' });
    expect(result.structuredContent?.truncated).toBe(true);
    expect(textOf(result)).not.toContain(github.token.slice(0, PIECE));
    expect(result.structuredContent?.content).toMatch(/^x{7580}\[REDACTED\]/);
  });
});

describe('incident resources', () => {
  const TOKEN = 'ghp_IncidentT0kenBBBBBBBBBBBBBBBBBBBBBBBBB';
  let mcp: Connected;

  beforeAll(async () => {
    mcp = await connect({ GITHUB_TOKEN: TOKEN, DEVOPS_MCP_DB: ':memory:' });
    const store = await mcp.ctx.store();
    store.incidents.apply(
      [
        {
          fingerprint: 'f1',
          // The list cuts a title at 120 characters, and the view a text at 1,000 when it does not fit.
          labels: { alertname: `${'a'.repeat(110)}${TOKEN}`, service: 's' },
          annotations: {},
          state: 'firing',
          startsAt: 1000,
          source: 'prometheus',
        },
      ],
      1000,
    );
    store.incidents.addEvent(
      1,
      { kind: 'note', summary: `${'n'.repeat(985)}${TOKEN}${'n'.repeat(9000)}` },
      1001,
    );
  });
  afterAll(async () => {
    await mcp.close();
  });

  it('scrubs titles before resources/list cuts them', async () => {
    const { resources } = await mcp.client.listResources();
    const titles = resources.map(r => r.title ?? '').join('\n');
    expect(titles).not.toContain(TOKEN.slice(0, PIECE));
    expect(titles).toContain('[REDACTED]');
  });

  it('scrubs timeline texts before incident://{id} cuts them to fit', async () => {
    const { contents } = await mcp.client.readResource({ uri: 'incident://1' });
    const text = contents[0] && 'text' in contents[0] ? contents[0].text : '';
    expect(text).toContain('chars cut]');
    expect(text).not.toContain(TOKEN.slice(0, PIECE));
  });

  it('scrubs what get_incident and list_incidents cut, as the resources do', async () => {
    for (const [tool, args] of [
      ['get_incident', { id: 1 }],
      ['list_incidents', {}],
    ] as const) {
      const result = await mcp.client.callTool({ name: tool, arguments: args });
      const text = JSON.stringify(result);
      expect(text, tool).not.toContain(TOKEN.slice(0, PIECE));
    }
  });
});
