// Runs LangChain v1's createAgent (ChatOpenAI, a local tool, a structured response) against scripted
// scenarios: the shape the headless loop uses, so its tests can count on the double playing it.
import { ChatOpenAI } from '@langchain/openai';
import { createAgent, tool } from 'langchain';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startOpenAiDouble, type OpenAiDouble, type Scenario } from './index.ts';
import { watchFetch, type FetchLog } from './loopback.ts';

const files: Record<string, string> = {
  'config/app.yaml': 'model:\n  learning_rate: 10 # read by src/train.py\n',
  'src/train.py': 'lr = cfg["learning_rate"]  # last changed in 9f8e7d6\n',
};

function readFileTool(reads: string[]) {
  return tool(
    ({ path }) => {
      reads.push(path);
      const text = files[path];
      if (text === undefined) throw new Error(`no such file: ${path}`);
      return text;
    },
    {
      name: 'read_file',
      description: 'Read a file of the repository',
      schema: z.object({ path: z.string().describe('Path in the repository') }),
    },
  );
}

const diagnosis = z.object({
  summary: z.string(),
  commit: z.string(),
  evidence: z.array(z.string()),
});

let double: OpenAiDouble | undefined;
let fetches: FetchLog;

beforeEach(() => {
  fetches = watchFetch();
});

afterEach(async () => {
  await double?.close();
  double = undefined;
  expect(fetches.strays).toEqual([]);
  expect(fetches.loopback).toBeGreaterThan(0);
});

function agentFor(d: OpenAiDouble, reads: string[], model = 'gpt-4o-mini') {
  return createAgent({
    model: new ChatOpenAI({ model, apiKey: d.apiKey, configuration: { baseURL: d.url }, maxRetries: 0 }),
    tools: [readFileTool(reads)],
    systemPrompt: 'You are an SRE. Cite your evidence.',
    responseFormat: diagnosis,
  });
}

const finalDiagnosis: Scenario[number] = {
  name: 'diagnose',
  expect: { toolResults: { contains: '9f8e7d6' } },
  json: c => ({
    summary: 'learning_rate 10 is far too high',
    commit: /changed in (\w+)/.exec(c.lastResult('read_file'))?.[1] ?? '',
    evidence: c.toolResults.map(r => r.id),
  }),
};

describe('createAgent against the OpenAI double', () => {
  it('plays a three-step investigation ending in a structured diagnosis', async () => {
    double = await startOpenAiDouble([
      {
        name: 'read the config',
        expect: {
          tools: { exactly: ['read_file'] },
          system: ['You are an SRE'],
          user: ['incident 42'],
          responseFormat: { name: 'extract' },
        },
        toolCalls: [{ name: 'read_file', arguments: { path: 'config/app.yaml' } }],
      },
      {
        name: 'follow the reference',
        expect: { toolResults: { contains: 'learning_rate' } },
        // The next call's argument comes from the previous tool result, as a receipt or sha would.
        toolCalls: [
          {
            name: 'read_file',
            arguments: c => ({ path: /read by (\S+)/.exec(c.lastResult('read_file'))?.[1] ?? '' }),
          },
        ],
      },
      finalDiagnosis,
    ]);
    const reads: string[] = [];
    const result = await agentFor(double, reads).invoke({
      messages: [{ role: 'user', content: 'Investigate incident 42' }],
    });

    expect(reads).toEqual(['config/app.yaml', 'src/train.py']);
    const ids = double.requests[2]!.body!.messages.filter(m => m.role === 'tool').map(m => m.tool_call_id);
    expect(result.structuredResponse).toEqual({
      summary: 'learning_rate 10 is far too high',
      commit: '9f8e7d6',
      evidence: ids,
    });
    expect(ids).toHaveLength(2);
    expect(double.requests.map(r => r.step)).toEqual([1, 2, 3]);
    double.assertDone();
  });

  it('lets the agent correct a call of an unknown tool: the next request carries the error', async () => {
    double = await startOpenAiDouble([
      {
        name: 'hallucinate a tool',
        toolCalls: [{ name: 'cat_file', arguments: { file: 'config/app.yaml' }, misbehave: true }],
      },
      {
        name: 'correct itself',
        expect: { toolResults: { error: true, contains: 'cat_file is not a valid tool' } },
        toolCalls: [{ name: 'read_file', arguments: { path: 'src/train.py' } }],
      },
      finalDiagnosis,
    ]);
    const reads: string[] = [];
    const result = await agentFor(double, reads).invoke({
      messages: [{ role: 'user', content: 'Investigate incident 7' }],
    });
    expect(reads).toEqual(['src/train.py']);
    expect(result.structuredResponse).toMatchObject({ commit: '9f8e7d6' });
    double.assertDone();
  });

  it('plays the tool strategy a model without a known profile gets for its structured response', async () => {
    double = await startOpenAiDouble(
      [
        {
          name: 'read',
          // Without native structured output the response is a tool the model must call ("any").
          expect: { responseFormat: false, tools: { include: ['read_file'] } },
          toolCalls: [{ name: 'read_file', arguments: { path: 'src/train.py' } }],
        },
        {
          name: 'answer through the extract tool',
          expect: {
            check: c =>
              c.request.tool_choice === 'required'
                ? undefined
                : `expected tool_choice required, got ${JSON.stringify(c.request.tool_choice)}`,
          },
          toolCalls: [
            {
              name: 'diagnosis',
              arguments: c => ({
                summary: 'lr too high',
                commit: '9f8e7d6',
                evidence: c.toolResults.map(r => r.id),
              }),
            },
          ],
        },
      ],
      { models: ['qwen2.5-coder:7b'] },
    );
    const reads: string[] = [];
    const agent = createAgent({
      model: new ChatOpenAI({
        model: 'qwen2.5-coder:7b',
        apiKey: double.apiKey,
        configuration: { baseURL: double.url },
        maxRetries: 0,
      }),
      tools: [readFileTool(reads)],
      responseFormat: diagnosis.meta({ title: 'diagnosis' }),
    });
    const result = await agent.invoke({ messages: [{ role: 'user', content: 'Investigate incident 9' }] });
    expect(result.structuredResponse).toMatchObject({ summary: 'lr too high', commit: '9f8e7d6' });
    expect(result.structuredResponse.evidence).toHaveLength(1);
    double.assertDone();
  });
});
