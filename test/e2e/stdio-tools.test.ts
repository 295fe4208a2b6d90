// The Loki and predictor tools through the built bundle, as Claude Desktop would run them: lazily loaded
// modules (the LogQL grammar, the tools themselves) must survive bundling.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLokiDouble, type LokiDouble } from '../doubles/loki/index.ts';
import { BIN, cleanEnv } from '../support/bin.ts';
import { startPredictor, type Predictor } from '../support/predictor.ts';

let loki: LokiDouble;
let predictor: Predictor;
let client: Client;

beforeAll(async () => {
  loki = await startLokiDouble();
  predictor = await startPredictor({ lokiUrl: loki.url });
  for (let i = 0; i < 5; i++) await (await fetch(`${predictor.url}/predict?symbol=NOPE`)).text();
  client = new Client({ name: 'e2e', version: '1' });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'serve'],
      env: cleanEnv({ LOKI_URL: loki.url, PREDICTOR_URL: predictor.url }),
    }),
  );
});

afterAll(async () => {
  await client.close();
  await predictor.close();
  await loki.close();
});

describe('Loki and predictor tools in the built server', () => {
  it('searches the logs the predictor shipped', async () => {
    // The shipper flushes once a second.
    let result: any;
    for (let i = 0; i < 40; i++) {
      result = await client.callTool({
        name: 'search_loki',
        arguments: { query: '{service="market-predictor"} |= "404"' },
      });
      if (result.structuredContent?.lines > 0) break;
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent.streams[0].groups[0].count).toBe(5);
  });

  it('checks LogQL with the grammar and points at the error', async () => {
    const result: any = await client.callTool({ name: 'search_loki', arguments: { query: '{service="x"' } });
    expect(result.isError).toBe(true);
    expect(result.content[0].text).toMatch(/^INVALID_ARGUMENT: LogQL syntax error at column 13/);
  });

  it('reports the predictor healthy', async () => {
    const result: any = await client.callTool({ name: 'predictor_health', arguments: {} });
    expect(result.structuredContent).toMatchObject({ status: 'healthy', target: 'default' });
  });
});
