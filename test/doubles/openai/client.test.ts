// Drives the double with the real ChatOpenAI client from @langchain/openai (non-streaming, tokens from
// usage, so nothing reaches for a tiktoken download), as the loop, its end-to-end test and the benchmark do.
import { HumanMessage } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { tool } from 'langchain';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { startOpenAiDouble, type OpenAiDouble, type Scenario } from './index.ts';
import { watchFetch, type FetchLog } from './loopback.ts';

const doubles: OpenAiDouble[] = [];
let fetches: FetchLog;

beforeEach(() => {
  fetches = watchFetch();
});

async function start(script: Scenario): Promise<OpenAiDouble> {
  const double = await startOpenAiDouble(script);
  doubles.push(double);
  return double;
}

afterEach(async () => {
  await Promise.all(doubles.splice(0).map(d => d.close()));
  // Every request went to the double (the spy sits in the client's path), none elsewhere.
  expect(fetches.strays).toEqual([]);
  expect(fetches.loopback).toBeGreaterThan(0);
});

function modelFor(double: OpenAiDouble, opts: { maxRetries?: number; timeout?: number } = {}) {
  return new ChatOpenAI({
    model: 'gpt-4o-mini',
    apiKey: double.apiKey,
    configuration: { baseURL: double.url },
    maxRetries: opts.maxRetries ?? 0,
    ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }),
  });
}

const queryMetrics = tool(({ query }) => `series ${query}: p99=2.5s over the last 15m`, {
  name: 'query_metrics',
  description: 'Run a PromQL query',
  schema: z.object({ query: z.string().describe('PromQL expression') }),
});

const toolCallThenAnswer: Scenario = [
  {
    name: 'query latency',
    expect: { tools: { include: ['query_metrics'], exclude: ['open_pr'] }, user: ['latency'] },
    toolCalls: [{ name: 'query_metrics', arguments: { query: 'histogram_quantile(0.99, rate(x[5m]))' } }],
    usage: { prompt_tokens: 120, completion_tokens: 18 },
  },
  {
    name: 'conclude',
    expect: { toolResults: { contains: 'p99=2.5s', error: false } },
    content: c => `Latency is high: ${c.lastResult('query_metrics').split(': ')[1] ?? ''}`,
  },
];

describe('the OpenAI double with the real ChatOpenAI client', () => {
  it('plays a tool call, then answers the request that carries its ToolMessage', async () => {
    const double = await start(toolCallThenAnswer);
    const model = modelFor(double).bindTools([queryMetrics]);
    const question = new HumanMessage('Why is latency up?');

    const first = await model.invoke([question]);
    expect(first.tool_calls).toEqual([
      {
        type: 'tool_call',
        id: expect.stringMatching(/^call_[\w-]{24}$/),
        name: 'query_metrics',
        args: { query: 'histogram_quantile(0.99, rate(x[5m]))' },
      },
    ]);
    expect(first.usage_metadata).toMatchObject({ input_tokens: 120, output_tokens: 18, total_tokens: 138 });

    const call = first.tool_calls![0]!;
    const result = await queryMetrics.invoke(call);
    const second = await model.invoke([question, first, result]);
    expect(second.content).toBe('Latency is high: p99=2.5s over the last 15m');
    expect(second.usage_metadata?.total_tokens).toBe(
      (second.usage_metadata?.input_tokens ?? 0) + (second.usage_metadata?.output_tokens ?? 0),
    );
    // The computed prompt grows with the conversation.
    expect(second.usage_metadata!.input_tokens).toBeGreaterThan(10);

    expect(double.requests.map(r => [r.status, r.step])).toEqual([
      [200, 1],
      [200, 2],
    ]);
    const sent = double.requests[1]!.body!.messages.at(-1)!;
    expect(sent).toMatchObject({ role: 'tool', tool_call_id: call.id });
    expect(double.requests[0]!.headers.authorization).toBe(`Bearer ${double.apiKey}`);
    double.assertDone();
  });

  it('answers withStructuredOutput through response_format json_schema', async () => {
    const double = await start([
      {
        expect: { responseFormat: { name: 'extract' } },
        json: { summary: 'bad config', confidence: 0.8 },
      },
    ]);
    const schema = z.object({ summary: z.string(), confidence: z.number() });
    const result = await modelFor(double).withStructuredOutput(schema).invoke('Diagnose');
    expect(result).toEqual({ summary: 'bad config', confidence: 0.8 });
    expect(double.requests[0]!.body!.response_format).toMatchObject({
      type: 'json_schema',
      json_schema: { name: 'extract', strict: true },
    });
    double.assertDone();
  });

  it("refuses a structured answer that does not fit the request's schema", async () => {
    const double = await start([{ json: { summary: 42 } }]);
    const schema = z.object({ summary: z.string() });
    await expect(modelFor(double).withStructuredOutput(schema).invoke('Diagnose')).rejects.toThrow(
      /400 step 1 of 1: the script's structured answer does not fit response_format extract/,
    );
    expect(() => {
      double.assertDone();
    }).toThrow(/deviated: step 1 of 1/);
  });

  it('is retried by the client after a 429 with retry-after, then answers', async () => {
    const double = await start([{ content: 'hello back' }]);
    double.fail({ status: 429, retryAfterSeconds: 1 });
    const answer = await modelFor(double, { maxRetries: 2 }).invoke('hello');
    expect(answer.content).toBe('hello back');
    expect(double.requests.map(r => [r.status, r.fault])).toEqual([
      [429, 'status 429'],
      [200, undefined],
    ]);
    double.assertDone();
  });

  it('surfaces a 500 once the retries are exhausted, without consuming the step', async () => {
    const double = await start([{ name: 'never reached', content: 'ok' }]);
    double.fail({ status: 500, count: 5 });
    await expect(modelFor(double, { maxRetries: 1 }).invoke('hello')).rejects.toMatchObject({ status: 500 });
    expect(double.requests.map(r => r.status)).toEqual([500, 500]);
    expect(double.progress()).toEqual({ step: 0, of: 1 });
    expect(() => {
      double.assertDone();
    }).toThrow(/0 of 1 steps played; step 1 of 1 \("never reached"\) never came/);
  });

  it('keeps the step for the retry when the client gave up on a delayed answer', async () => {
    const double = await start([{ name: 'slow', content: 'at last' }]);
    // The client times out first; the delayed request ends before the retry comes (LangChain's backoff
    // waits at least a second), and must not consume the step the retry is to get.
    double.fail({ delayMs: 500 });
    const answer = await modelFor(double, { maxRetries: 1, timeout: 200 }).invoke('hello');
    expect(answer.content).toBe('at last');
    expect(double.requests.map(r => [r.fault, r.status])).toEqual([
      ['delay 500 ms', 0],
      [undefined, 200],
    ]);
    expect(double.requests[1]!.step).toBe(1);
    double.assertDone();
  });

  it('answers 400 naming the step when the request leaves the script, and assertDone throws', async () => {
    const double = await start([
      {
        name: 'open the PR',
        expect: { tools: { include: ['open_pr'] } },
        toolCalls: [{ name: 'open_pr', arguments: {} }],
      },
    ]);
    const model = modelFor(double, { maxRetries: 3 }).bindTools([queryMetrics]);
    await expect(model.invoke('go')).rejects.toMatchObject({
      status: 400,
      error: { type: 'invalid_request_error', code: 'scenario_deviation', param: 'tools' },
    });
    // A 400 is not retried: one request, and it consumed nothing.
    expect(double.requests.map(r => r.status)).toEqual([400]);
    expect(double.progress()).toEqual({
      step: 0,
      of: 1,
      deviation:
        'step 1 of 1 ("open the PR"): expected the tools offered to include open_pr; offered: query_metrics',
    });
    expect(() => {
      double.assertDone();
    }).toThrow('step 1 of 1 ("open the PR"): expected the tools offered to include open_pr');
  });

  it('sends the misbehaviour of local models as scripted: no tool call, unknown tool, invalid JSON', async () => {
    const double = await start([
      { name: 'chatty', content: 'I would check the metrics.' },
      {
        name: 'unknown',
        toolCalls: [{ name: 'restart_cluster', arguments: { now: true }, misbehave: true }],
      },
      // Each invoke here starts afresh, so the previous calls are not answered: the implied check is off.
      {
        name: 'broken',
        expect: { toolResults: false },
        toolCalls: [{ name: 'query_metrics', arguments: '{"query": "up', misbehave: true }],
      },
    ]);
    // LangChain warns when every tool call of an answer is invalid, as the last one is.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const model = modelFor(double).bindTools([queryMetrics]);
    const chatty = await model.invoke('go');
    expect(chatty.tool_calls).toEqual([]);
    expect(chatty.response_metadata.finish_reason).toBe('stop');
    const unknown = await model.invoke('go');
    expect(unknown.tool_calls?.map(c => c.name)).toEqual(['restart_cluster']);
    const broken = await model.invoke('go');
    expect(broken.tool_calls).toEqual([]);
    expect(broken.invalid_tool_calls).toMatchObject([{ name: 'query_metrics', args: '{"query": "up' }]);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^New LangChain packages are available/));
    double.assertDone();
  });

  it('refuses a scripted call of a tool that is not offered unless it is marked misbehave', async () => {
    const double = await start([{ toolCalls: [{ name: 'quer_metrics', arguments: { query: 'up' } }] }]);
    await expect(modelFor(double).bindTools([queryMetrics]).invoke('go')).rejects.toThrow(
      /step 1 of 1: the script calls quer_metrics, which the request does not offer \(offered: query_metrics\)/,
    );
  });

  it("refuses scripted arguments that do not fit the offered tool's schema", async () => {
    const double = await start([{ toolCalls: [{ name: 'query_metrics', arguments: { q: 'up' } }] }]);
    await expect(modelFor(double).bindTools([queryMetrics]).invoke('go')).rejects.toThrow(
      /the script's arguments for query_metrics do not fit the offered parameters/,
    );
  });
});
