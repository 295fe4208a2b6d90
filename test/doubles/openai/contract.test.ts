// Holds the double to OpenAI's OpenAPI description (the excerpt in fixtures/, with its source): its answers
// to the response schemas and the documented example, and the requests the real ChatOpenAI sends to the
// request schema, so neither the double nor what the loop's tests assume can drift from the real API.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChatOpenAI } from '@langchain/openai';
import { createAgent, tool } from 'langchain';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startOpenAiDouble, type OpenAiDouble, type Scenario } from './index.ts';
import { loadContract, type Contract, type SchemaName } from './openapi.ts';

const excerpt = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures', 'chat-completions.openapi.json'), 'utf8'),
);
const documented = excerpt.examples['chat.completion'];

let contract: Contract;
let double: OpenAiDouble | undefined;

beforeAll(() => {
  contract = loadContract();
});

afterEach(async () => {
  await double?.close();
  double = undefined;
});

function conforms(name: SchemaName, value: unknown): void {
  expect(contract.violations(name, value), `${name}: ${JSON.stringify(value)}`).toEqual([]);
}

const tools = [
  {
    type: 'function',
    function: {
      name: 'query_metrics',
      description: 'Run a PromQL query',
      parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
    },
  },
];

async function post(
  d: OpenAiDouble,
  body: unknown,
  key = d.apiKey,
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${d.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

/** Key paths of an object tree (arrays by their first item), to compare shapes with the example. */
function keyPaths(value: unknown, path = '$'): string[] {
  if (Array.isArray(value)) return value.length > 0 ? keyPaths(value[0], `${path}[]`) : [];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [`${path}.${k}`, ...keyPaths(v, `${path}.${k}`)]);
}

describe("the OpenAI double against OpenAI's OpenAPI description", () => {
  it('reads the excerpt of the official description it says it is', () => {
    expect(excerpt._source).toMatchObject({ repository: 'openai/openai-openapi', path: 'openapi.json' });
    expect(excerpt._source.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(excerpt.paths['/chat/completions'].post.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/CreateChatCompletionRequest',
    });
    // The documented example conforms, and a broken copy of it does not: the validator can fail.
    conforms('CreateChatCompletionResponse', documented);
    const broken = structuredClone(documented);
    broken.choices[0].finish_reason = 'done';
    delete broken.object;
    expect(contract.violations('CreateChatCompletionResponse', broken)).toHaveLength(2);
    expect(contract.violations('ErrorResponse', { error: { message: 'x', type: 'y' } })).not.toEqual([]);
  });

  it('answers a tool call, a final text and a structured output in the documented shape', async () => {
    const script: Scenario = [
      { toolCalls: [{ name: 'query_metrics', arguments: { query: 'up' } }] },
      { content: 'All targets are up.' },
      { json: { verdict: 'healthy' } },
    ];
    double = await startOpenAiDouble(script);
    const user = { role: 'user', content: 'Are the targets up?' };
    const call = await post(double, { model: 'gpt-4o-mini', messages: [user], tools });
    expect(call.status).toBe(200);
    expect(call.headers.get('content-type')).toBe('application/json');
    expect(call.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    conforms('CreateChatCompletionResponse', call.body);
    const [choice] = call.body.choices;
    expect(choice).toMatchObject({ finish_reason: 'tool_calls', message: { content: null } });
    expect(choice.message.tool_calls).toEqual([
      {
        id: expect.stringMatching(/^call_/),
        type: 'function',
        function: { name: 'query_metrics', arguments: '{"query":"up"}' },
      },
    ]);

    const answered = [
      user,
      choice.message,
      { role: 'tool', tool_call_id: choice.message.tool_calls[0].id, content: 'up=1' },
    ];
    const final = await post(double, { model: 'gpt-4o-mini', messages: answered, tools });
    conforms('CreateChatCompletionResponse', final.body);
    expect(final.body.choices[0]).toMatchObject({
      finish_reason: 'stop',
      message: { content: 'All targets are up.' },
    });
    // Key for key the documented chat completion object (the example lists no tool_calls).
    expect(keyPaths(final.body).sort()).toEqual(keyPaths(documented).sort());
    const { prompt_tokens, completion_tokens, total_tokens } = final.body.usage;
    expect(total_tokens - prompt_tokens).toBe(completion_tokens);

    const structured = await post(double, {
      model: 'gpt-4o-mini',
      messages: [user],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'verdict',
          strict: true,
          schema: {
            type: 'object',
            properties: { verdict: { type: 'string' } },
            required: ['verdict'],
            additionalProperties: false,
          },
        },
      },
    });
    conforms('CreateChatCompletionResponse', structured.body);
    expect(JSON.parse(structured.body.choices[0].message.content)).toEqual({ verdict: 'healthy' });
    double.assertDone();
  });

  it('answers every error in the documented error shape', async () => {
    double = await startOpenAiDouble([{ expect: { tools: { include: ['open_pr'] } }, content: 'no' }]);
    const ok = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
    const errors: Array<{ status: number; body: any; headers: Headers }> = [];

    errors.push(await post(double, ok, ''), await post(double, ok, 'sk-wrong-key-1234'));
    double.fail({ status: 429, retryAfterSeconds: 2 });
    const limited = await post(double, ok);
    errors.push(limited);
    double.fail({ status: 500 });
    double.fail({ status: 503 });
    errors.push(await post(double, ok), await post(double, ok));
    errors.push(await post(double, ok)); // leaves the script: open_pr is not offered
    errors.push(await post(double, ok)); // and stays off it
    const notFound = await fetch(`${double.url}/embeddings`, {
      headers: { authorization: `Bearer ${double.apiKey}` },
    });
    errors.push({ status: notFound.status, body: await notFound.json(), headers: notFound.headers });
    // Malformed requests, each to a double of its own (the first deviation is the one reported).
    for (const body of [
      '{"model": ',
      { model: 'gpt-4o-mini', messages: [] }, // messages has minItems 1
      { model: 'gpt-4o-mini', messages: [{ role: 'tool', tool_call_id: 'call_1', content: 'x' }] },
    ]) {
      const fresh = await startOpenAiDouble([{ content: 'never' }]);
      errors.push(await post(fresh, body));
      expect(fresh.progress().deviation).toBeDefined();
      await fresh.close();
    }

    expect(errors.map(e => e.status)).toEqual([401, 401, 429, 500, 503, 400, 400, 404, 400, 400, 400]);
    for (const e of errors) conforms('ErrorResponse', e.body);
    expect(errors[1]!.body.error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });
    expect(errors[1]!.body.error.message).not.toContain('sk-wrong-key-1234');
    // The documented Retry-After of a 429: an integer number of seconds, at least 1.
    const retryAfter = excerpt.responses.TooManyRequests.headers['Retry-After'].schema;
    expect(retryAfter).toEqual({ type: 'integer', minimum: 1 });
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(limited.body.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
    expect(errors[5]!.body.error).toMatchObject({ code: 'scenario_deviation', param: 'tools' });
    expect(errors[6]!.body.error.message).toMatch(/^The scenario already left the script: step 1 of 1/);
    expect(errors[8]!.body.error.message).toMatch(/could not parse the JSON body/);
    expect(errors[9]!.body.error.message).toMatch(/does not conform to CreateChatCompletionRequest/);
    expect(errors[10]!.body.error).toMatchObject({
      message: expect.stringMatching(
        /role 'tool' must be a response to a preceeding message with 'tool_calls'/,
      ),
      param: 'messages.[0].role',
    });
  });

  it('lists the models in the documented shape', async () => {
    double = await startOpenAiDouble([], { models: ['gpt-4o-mini', 'qwen2.5-coder:7b'] });
    const auth = { headers: { authorization: `Bearer ${double.apiKey}` } };
    const list = (await (await fetch(`${double.url}/models`, auth)).json()) as any;
    conforms('ListModelsResponse', list);
    expect(list.data.map((m: any) => m.id)).toEqual(['gpt-4o-mini', 'qwen2.5-coder:7b']);
    conforms('Model', await (await fetch(`${double.url}/models/qwen2.5-coder%3A7b`, auth)).json());
    const missing = await fetch(`${double.url}/models/gpt-9`, auth);
    expect(missing.status).toBe(404);
    conforms('ErrorResponse', await missing.json());
  });

  it('receives from the real ChatOpenAI requests that conform to CreateChatCompletionRequest', async () => {
    const queryMetrics = tool(({ query }) => `${query}=1`, {
      name: 'query_metrics',
      description: 'Run a PromQL query',
      schema: z.object({ query: z.string() }),
    });
    double = await startOpenAiDouble([
      { toolCalls: [{ name: 'query_metrics', arguments: { query: 'up' } }] },
      { content: 'up' },
      { json: { verdict: 'healthy' } },
      { toolCalls: [{ name: 'query_metrics', arguments: { query: 'up' } }] },
      { json: { verdict: 'healthy' } },
    ]);
    const model = new ChatOpenAI({
      model: 'gpt-4o-mini',
      apiKey: double.apiKey,
      configuration: { baseURL: double.url },
      maxRetries: 0,
      temperature: 0,
    });
    const bound = model.bindTools([queryMetrics]);
    const first = await bound.invoke('Are the targets up?');
    const result = await queryMetrics.invoke(first.tool_calls![0]!);
    await bound.invoke(['Are the targets up?', first, result]);
    const schema = z.object({ verdict: z.string() });
    await model.withStructuredOutput(schema).invoke('Verdict?');
    const agent = createAgent({
      model,
      tools: [queryMetrics],
      systemPrompt: 'You are an SRE.',
      responseFormat: schema,
    });
    await agent.invoke({ messages: [{ role: 'user', content: 'Check the targets' }] });
    double.assertDone();

    expect(double.requests).toHaveLength(5);
    for (const r of double.requests) conforms('CreateChatCompletionRequest', r.body);
    // What the loop's scenarios rely on, as the client sends it.
    const [, toolTurn, , , agentTurn] = double.requests.map(r => r.body!);
    expect(toolTurn!.messages.map(m => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(agentTurn!.messages.map(m => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
    expect(agentTurn!).toMatchObject({ stream: false, response_format: { type: 'json_schema' } });
    // A malformed request is caught by the same schema.
    expect(
      contract.violations('CreateChatCompletionRequest', { model: 'x', messages: [{ role: 'tool' }] }),
    ).not.toEqual([]);
  });
});
