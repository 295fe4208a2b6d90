// The double's script keeping over plain HTTP: each expectation of a step holds or names what differed,
// the end of the script, OpenAI's own checks of tool messages, faults and the key.
import { afterEach, describe, expect, it } from 'vitest';
import { startOpenAiDouble, type OpenAiDouble, type Scenario, type Step } from './index.ts';

const doubles: OpenAiDouble[] = [];

async function start(script: Scenario): Promise<OpenAiDouble> {
  const double = await startOpenAiDouble(script);
  doubles.push(double);
  return double;
}

afterEach(async () => {
  await Promise.all(doubles.splice(0).map(d => d.close()));
});

async function post(double: OpenAiDouble, body: unknown, key = double.apiKey) {
  const response = await fetch(`${double.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

const fn = (name: string) => ({
  type: 'function',
  function: { name, parameters: { type: 'object', properties: { path: { type: 'string' } } } },
});
const user = (content: string) => ({ role: 'user', content });
const request = (extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'system', content: [{ type: 'text', text: 'You are an SRE.' }] }, user('incident 42')],
  tools: [fn('read_file'), fn('annotate_incident')],
  ...extra,
});

/** Plays a tool-call step, and returns the request that answers it with the given tool result. */
async function afterToolCall(double: OpenAiDouble, result: string) {
  const first = await post(double, request());
  const message = first.body.choices[0].message;
  const base = request();
  return request({
    messages: [
      ...base.messages,
      message,
      { role: 'tool', tool_call_id: message.tool_calls[0].id, content: result },
    ],
  });
}

const readCall: Step = { toolCalls: [{ name: 'read_file', arguments: { path: 'a.py' } }] };

describe('the OpenAI double keeping to its script', () => {
  it.each<{ case: string; step: Step; body?: Record<string, unknown>; deviation: RegExp }>([
    {
      case: 'a tool that must be offered',
      step: { expect: { tools: { include: ['open_pr'] } }, content: 'x' },
      deviation: /include open_pr; offered: read_file, annotate_incident$/,
    },
    {
      case: 'a tool that must not be offered',
      step: { expect: { tools: { exclude: ['annotate_incident', 'open_pr'] } }, content: 'x' },
      deviation: /exclude annotate_incident; offered/,
    },
    {
      case: 'the exact tool set',
      step: { expect: { tools: { exactly: ['read_file'] } }, content: 'x' },
      deviation: /expected exactly the tools read_file; offered: read_file, annotate_incident/,
    },
    {
      case: 'a system text',
      step: { expect: { system: ['Cite evidence'] }, content: 'x' },
      deviation:
        /expected a system message containing "Cite evidence"; the system messages read "You are an SRE\."/,
    },
    {
      case: 'a user text',
      step: { expect: { user: ['incident 43'] }, content: 'x' },
      deviation: /expected a user message containing "incident 43"/,
    },
    {
      case: 'structured output requested',
      step: { expect: { responseFormat: true }, content: 'x' },
      deviation: /expected response_format json_schema; got none/,
    },
    {
      case: 'no structured output requested',
      step: { expect: { responseFormat: false }, content: 'x' },
      body: { response_format: { type: 'json_object' } },
      deviation: /expected no response_format; got json_object/,
    },
    {
      case: 'a structured answer to a request that asks for none',
      step: { json: { a: 1 } },
      deviation: /answers structured output, but the request asks for none/,
    },
    {
      case: 'a custom check',
      step: {
        expect: { check: c => (c.request.temperature === 0 ? undefined : 'wanted temperature 0') },
        content: 'x',
      },
      deviation: /wanted temperature 0$/,
    },
    {
      case: 'content computed from a tool result that is not there',
      step: { content: c => c.lastResult('read_file') },
      deviation: /the conversation holds no result of read_file/,
    },
    {
      case: 'streaming',
      step: { content: 'x' },
      body: { stream: true },
      deviation: /answers non-streaming requests only/,
    },
  ])('answers 400 and records the deviation for $case', async ({ step, body, deviation }) => {
    const double = await start([{ name: 'only', ...step }]);
    const response = await post(double, request(body));
    expect(response.status).toBe(400);
    expect(response.body.error.message).toMatch(deviation);
    expect(double.progress().deviation).toMatch(deviation);
    expect(() => {
      double.assertDone();
    }).toThrow(deviation);
  });

  it('checks that the previous calls are answered, and what their results say', async () => {
    const cases: Array<[NonNullable<Step['expect']>['toolResults'], string, RegExp | undefined]> = [
      [undefined, 'file a.py: x = 1', undefined],
      [{ contains: 'x = 1' }, 'file a.py: x = 1', undefined],
      [
        { contains: 'y = 2' },
        'file a.py: x = 1',
        /expected the result of read_file \(call_\S+\) to contain "y = 2"/,
      ],
      [{ error: true }, 'Error: no such file\n Please fix your mistakes.', undefined],
      [{ error: true }, 'file a.py', /to be an error; it reads "file a.py"/],
      [{ error: false }, 'Error: denied', /not to be an error/],
    ];
    for (const [toolResults, result, deviation] of cases) {
      const double = await start([readCall, { expect: { toolResults }, content: 'done' }]);
      const response = await post(double, await afterToolCall(double, result));
      if (deviation) {
        expect(response.status).toBe(400);
        expect(response.body.error.message).toMatch(/^step 2 of 2: /);
        expect(response.body.error.message).toMatch(deviation);
      } else {
        expect(response.status, JSON.stringify(response.body)).toBe(200);
        double.assertDone();
      }
    }
  });

  it("refuses, as OpenAI does, a conversation that does not answer an assistant's tool calls", async () => {
    const double = await start([readCall, { content: 'done' }]);
    const first = await post(double, request());
    const message = first.body.choices[0].message;
    const response = await post(double, request({ messages: [user('incident 42'), message, user('and?')] }));
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({
      message: `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${message.tool_calls[0].id}`,
      param: 'messages.[2].role',
    });
    expect(() => {
      double.assertDone();
    }).toThrow(/deviated: step 2 of 2: An assistant message with 'tool_calls' must be followed/);
  });

  it('answers 400 to a request after the last step', async () => {
    const double = await start([{ content: 'one' }]);
    expect((await post(double, request())).status).toBe(200);
    const extra = await post(double, request());
    expect(extra.status).toBe(400);
    expect(extra.body.error.message).toBe(
      'request 2 came after the end of the scenario (1 steps, all played)',
    );
    expect(double.progress()).toMatchObject({ step: 1, of: 1 });
    expect(() => {
      double.assertDone();
    }).toThrow(/after the end of the scenario/);
  });

  it('plays several tool calls in one answer, with stable ids, and copies values from results', async () => {
    const script: Scenario = [
      {
        toolCalls: [
          { name: 'read_file', arguments: { path: 'a.py' } },
          { name: 'annotate_incident', arguments: { path: 'notes' } },
        ],
        usage: { prompt_tokens: 50 },
      },
      { toolCalls: [{ name: 'read_file', arguments: c => ({ path: c.lastJson('read_file').next }) }] },
    ];
    const [one, two] = [await start(script), await start(script)];
    const a = await post(one, request());
    const b = await post(two, request());
    expect(a.body.choices[0].message.tool_calls.map((c: any) => c.id)).toEqual(
      b.body.choices[0].message.tool_calls.map((c: any) => c.id),
    );
    expect(a.body.usage.prompt_tokens).toBe(50);
    expect(a.body.usage.total_tokens - 50).toBe(a.body.usage.completion_tokens);

    const message = a.body.choices[0].message;
    const [readId, noteId] = message.tool_calls.map((c: any) => c.id);
    const base = request();
    const second = await post(
      one,
      request({
        messages: [
          ...base.messages,
          message,
          { role: 'tool', tool_call_id: readId, content: '{"next":"b.py"}' },
          { role: 'tool', tool_call_id: noteId, content: 'noted' },
        ],
      }),
    );
    expect(second.body.choices[0].message.tool_calls[0].function.arguments).toBe('{"path":"b.py"}');
    one.assertDone();
    expect(one.requests.map(r => r.body?.messages.length)).toEqual([2, 5]);
  });

  it('neither counts nor records as a deviation a request with the wrong key', async () => {
    const double = await start([{ content: 'hi' }]);
    const denied = await post(double, request(), 'sk-other');
    expect(denied.status).toBe(401);
    expect((await post(double, request())).status).toBe(200);
    expect(double.requests.map(r => r.status)).toEqual([401, 200]);
    double.assertDone();
  });

  it('injects a fault for the given number of requests, then answers again', async () => {
    const double = await start([{ content: 'hi' }]);
    double.fail({ status: 503, count: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await post(double, request())).status);
    expect(statuses).toEqual([503, 503, 200]);
    expect(double.requests.map(r => r.fault)).toEqual(['status 503', 'status 503', undefined]);
    double.assertDone();
  });
});
