// An OpenAI Chat Completions API double on a free loopback port that plays a scripted model: each request
// must hold what the scenario's current step expects, and gets that step's answer in OpenAI's wire format.
// A request that leaves the script gets a 400 naming the step, and assertDone() throws: it never improvises.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadContract } from './openapi.ts';
import {
  conversationOf,
  createSchemaCheck,
  Deviation,
  match,
  render,
  type ChatRequestBody,
  type RequestMessage,
  type Scenario,
  type Step,
} from './scenario.ts';
import {
  authError,
  completion,
  errorBody,
  estimateTokens,
  contextLengthError,
  faultError,
  modelList,
  usageOf,
  wireId,
  type ErrorBody,
} from './wire.ts';

export type {
  Answer,
  Conversation,
  Expectations,
  Scenario,
  ScriptedToolCall,
  Step,
  ToolResult,
} from './scenario.ts';

export interface RecordedChatRequest {
  /** The parsed body (undefined when it was not JSON). */
  body: ChatRequestBody | undefined;
  headers: IncomingHttpHeaders;
  /** The status answered (0 when the client left before the answer). */
  status: number;
  /** The 1-based step that answered it, when one did. */
  step?: number;
  /** The injected fault it got, if any. */
  fault?: string;
}

export type Fault =
  | { status: 400 | 429 | 500 | 503; count?: number; retryAfterSeconds?: number }
  /** The 400 OpenAI answers a conversation longer than the model's context window. */
  | { contextLength: true; count?: number }
  | { delayMs: number; count?: number };

export interface OpenAiDouble {
  /** Base URL including /v1, for ChatOpenAI's configuration.baseURL and OPENAI_BASE_URL. */
  url: string;
  /** The key it accepts (others get 401 with OpenAI's error shape). */
  apiKey: string;
  /** Every chat completion request received, in order. */
  requests: RecordedChatRequest[];
  /** Where the script stands: steps consumed, and the first deviation if any (also thrown from `assertDone`). */
  progress(): { step: number; of: number; deviation?: string };
  /** Throws with a precise message if the scenario was not played to its end or deviated. */
  assertDone(): void;
  /**
   * Faults for the next n chat completion requests (count, 1 by default), queued after earlier ones: an error
   * status in OpenAI's shape (a 429 carries retry-after, retryAfterSeconds or 1; a 500/503 only when given),
   * or a delay before the normal answer. A faulted request consumes no step; nor does a delayed one whose
   * client gave up waiting.
   */
  fail(next: Fault): void;
  close(): Promise<void>;
}

export interface OpenAiDoubleOptions {
  host?: string;
  /** The key to accept; a fixed test key by default. */
  apiKey?: string;
  /** The ids GET /v1/models lists. */
  models?: string[];
}

const stepLabel = (index: number, of: number, step: Step | undefined) =>
  `step ${index + 1} of ${of}${step?.name ? ` (${JSON.stringify(step.name)})` : ''}`;

/**
 * OpenAI's own checks of a conversation's tool messages: each answers a call of an earlier assistant
 * message, and each call of an assistant message is answered before the next non-tool message.
 */
function checkToolMessages(messages: RequestMessage[]): void {
  let open: string[] = [];
  let inToolRun = false;
  messages.forEach((m, i) => {
    if (m.role === 'tool') {
      if (!inToolRun || !open.includes(m.tool_call_id ?? '')) {
        throw new Deviation(
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          `messages.[${i}].role`,
        );
      }
      open = open.filter(id => id !== m.tool_call_id);
      return;
    }
    if (open.length > 0) {
      throw new Deviation(
        `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${open.join(', ')}`,
        `messages.[${i}].role`,
      );
    }
    open = m.role === 'assistant' ? (m.tool_calls ?? []).map(c => c.id) : [];
    inToolRun = open.length > 0;
  });
  if (open.length > 0) {
    throw new Deviation(
      `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${open.join(', ')}`,
      `messages.[${messages.length - 1}].role`,
    );
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  // OpenAI names every answer with a request id; the SDK exposes it as _request_id.
  const requestId = `req_${randomUUID().replaceAll('-', '')}`;
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': requestId, ...headers });
  res.end(JSON.stringify(body));
}

/**
 * Starts the double on a free port of host (127.0.0.1 by default), playing script:
 *
 * ```ts
 * const model = await startOpenAiDouble([
 *   { name: 'look', expect: { tools: { include: ['query_prometheus'], exclude: ['open_pr'] } },
 *     toolCalls: [{ name: 'query_prometheus', arguments: { query: 'up' } }] },
 *   { name: 'cite', expect: { toolResults: { contains: '"status":"success"' } },
 *     json: c => ({ summary: '…', evidence: c.toolResults.map(r => r.id) }) },
 * ]);
 * new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: model.apiKey, configuration: { baseURL: model.url } });
 * ```
 */
export async function startOpenAiDouble(
  script: Scenario,
  opts: OpenAiDoubleOptions = {},
): Promise<OpenAiDouble> {
  const contract = loadContract();
  const schemaCheck = createSchemaCheck();
  const apiKey = opts.apiKey ?? 'sk-test-openai-double';
  const models = opts.models ?? ['gpt-4o-mini'];
  const steps = [...script];
  const requests: RecordedChatRequest[] = [];
  const faults: Fault[] = [];
  const closing = new AbortController();
  let played = 0;
  let previousToolCallIds: string[] = [];
  let deviation: string | undefined;

  /**
   * Records the first deviation and answers it as OpenAI answers an invalid request; with OpenAI's own
   * wording on the wire, the record is prefixed with the step it happened at.
   */
  function deviate(message: string, param: string | null, code: string | null, atStep = false): ErrorBody {
    deviation ??= atStep ? `${stepLabel(played, steps.length, steps[played])}: ${message}` : message;
    return errorBody(message, 'invalid_request_error', code, param);
  }

  function answer(body: ChatRequestBody): { status: number; body: unknown; step?: number } {
    if (deviation !== undefined) {
      return {
        status: 400,
        body: errorBody(
          `The scenario already left the script: ${deviation}`,
          'invalid_request_error',
          'scenario_deviation',
        ),
      };
    }
    const invalid = contract.violations('CreateChatCompletionRequest', body);
    if (invalid.length > 0) {
      const message = `Invalid request at ${stepLabel(played, steps.length, steps[played])}: it does not conform to CreateChatCompletionRequest: ${invalid.slice(0, 5).join('; ')}`;
      return { status: 400, body: deviate(message, null, 'invalid_request') };
    }
    if (body.stream === true) {
      const message = `${stepLabel(played, steps.length, steps[played])}: the double answers non-streaming requests only (stream: true was sent)`;
      return { status: 400, body: deviate(message, 'stream', 'scenario_deviation') };
    }
    try {
      checkToolMessages(body.messages);
    } catch (error) {
      if (!(error instanceof Deviation)) throw error;
      return { status: 400, body: deviate(error.message, error.param, null, true) };
    }
    const index = played;
    const step = steps[index];
    if (!step) {
      const message = `request ${requests.length} came after the end of the scenario (${steps.length} steps, all played)`;
      return { status: 400, body: deviate(message, null, 'scenario_deviation') };
    }
    let rendered;
    try {
      const conversation = conversationOf(body);
      match(step, previousToolCallIds, conversation);
      rendered = render(step, conversation, schemaCheck);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const message = `${stepLabel(index, steps.length, step)}: ${reason}`;
      const param = error instanceof Deviation ? error.param : null;
      return { status: 400, body: deviate(message, param, 'scenario_deviation') };
    }
    played += 1;
    const toolCalls = rendered.toolCalls.map((call, i) => ({
      id: wireId('call_', `step ${index}, call ${i}`),
      type: 'function' as const,
      function: call,
    }));
    previousToolCallIds = toolCalls.map(c => c.id);
    const output = (rendered.content ?? '') + JSON.stringify(rendered.toolCalls);
    const input = JSON.stringify([body.messages, body.tools ?? [], body.response_format ?? null]);
    const usage =
      step.usage === null
        ? undefined
        : usageOf(
            step.usage?.prompt_tokens ?? estimateTokens(input),
            step.usage?.completion_tokens ?? estimateTokens(output),
          );
    return {
      status: 200,
      step: index + 1,
      body: completion({
        id: wireId('chatcmpl-', `request ${requests.length}`),
        model: body.model,
        content: rendered.content,
        toolCalls,
        finishReason: rendered.finishReason,
        usage,
      }),
    };
  }

  async function chat(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
    let body: ChatRequestBody | undefined;
    try {
      body = JSON.parse(raw) as ChatRequestBody;
    } catch {
      body = undefined;
    }
    const record: RecordedChatRequest = { body, headers: req.headers, status: 0 };
    requests.push(record);
    const client = { gone: false };
    res.on('close', () => {
      if (!res.writableFinished) client.gone = true;
    });
    const reply = (status: number, payload: unknown, headers?: Record<string, string>) => {
      record.status = status;
      send(res, status, payload, headers);
    };

    const presented = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (presented !== apiKey) {
      reply(401, authError(presented));
      return;
    }
    const fault = faults[0];
    if (fault) {
      if ((fault.count ?? 1) <= 1) faults.shift();
      else fault.count = (fault.count ?? 1) - 1;
      if ('delayMs' in fault) {
        record.fault = `delay ${fault.delayMs} ms`;
        try {
          await sleep(fault.delayMs, undefined, { signal: closing.signal });
        } catch {
          return; // closing: the connection is being dropped anyway
        }
        if (client.gone) return; // the client gave up: the step stays for its retry
      } else if ('contextLength' in fault) {
        record.fault = 'context length exceeded';
        reply(400, contextLengthError());
        return;
      } else {
        record.fault = `status ${fault.status}`;
        const retryAfter = fault.retryAfterSeconds ?? (fault.status === 429 ? 1 : undefined);
        reply(
          fault.status,
          faultError(fault.status, body?.model ?? models[0] ?? 'gpt-4o-mini', retryAfter ?? 1),
          retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) },
        );
        return;
      }
    }
    if (body === undefined) {
      const message =
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)";
      reply(400, deviate(message, null, null, true));
      return;
    }
    const result = answer(body);
    if (result.step !== undefined) record.step = result.step;
    reply(result.status, result.body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://openai');
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/v1/chat/completions' && req.method === 'POST') {
      await chat(req, res, raw);
      return;
    }
    const modelPath = /^\/v1\/models(?:\/([^/]+))?$/.exec(path);
    if (modelPath && req.method === 'GET') {
      const presented = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (presented !== apiKey) {
        send(res, 401, authError(presented));
        return;
      }
      const id = modelPath[1] && decodeURIComponent(modelPath[1]);
      if (id === undefined) send(res, 200, modelList(models));
      else if (models.includes(id)) send(res, 200, (modelList([id]) as { data: unknown[] }).data[0]);
      else {
        send(
          res,
          404,
          errorBody(`The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found', 'model'),
        );
      }
      return;
    }
    send(
      res,
      404,
      errorBody(`Invalid URL (${req.method ?? 'GET'} ${url.pathname})`, 'invalid_request_error'),
    );
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      deviation ??= `the double failed: ${error instanceof Error ? error.message : String(error)}`;
      if (!res.headersSent) send(res, 500, errorBody(deviation, 'server_error'));
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const progress = () => ({
    step: played,
    of: steps.length,
    ...(deviation === undefined ? {} : { deviation }),
  });

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`,
    apiKey,
    requests,
    progress,
    assertDone() {
      if (deviation !== undefined) throw new Error(`The OpenAI double's scenario deviated: ${deviation}`);
      if (played < steps.length) {
        const next = steps[played];
        throw new Error(
          `The OpenAI double's scenario was not played to its end: ${played} of ${steps.length} steps played; ${stepLabel(played, steps.length, next)} never came`,
        );
      }
    },
    fail(next) {
      faults.push({ ...next });
    },
    close: () =>
      new Promise(resolve => {
        closing.abort();
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
