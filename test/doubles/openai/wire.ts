// The Chat Completions wire format the double answers in: completion objects, usage, error bodies and the
// model list, as OpenAI's OpenAPI description gives them (held to it by contract.test.ts).

import { createHash } from 'node:crypto';

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface WireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number; audio_tokens: number };
  completion_tokens_details: {
    reasoning_tokens: number;
    audio_tokens: number;
    accepted_prediction_tokens: number;
    rejected_prediction_tokens: number;
  };
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: {
      role: 'assistant';
      content: string | null;
      refusal: null;
      tool_calls?: WireToolCall[];
      annotations: [];
    };
    finish_reason: FinishReason;
    logprobs: null;
  }>;
  /** Optional in OpenAI's description of the response (not among its required fields). */
  usage?: Usage;
  service_tier: 'default';
  system_fingerprint: string;
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** A stable id in OpenAI's style (`prefix` + 24 url-safe characters) from a seed, so runs are reproducible. */
export function wireId(prefix: string, seed: string): string {
  return prefix + createHash('sha256').update(seed).digest('base64url').slice(0, 24);
}

/** About four characters a token, as OpenAI's guidance for English text has it; at least one. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

export function usageOf(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

export function completion(p: {
  id: string;
  model: string;
  content: string | null;
  toolCalls: WireToolCall[];
  finishReason: FinishReason;
  /** Absent from the answer when undefined. */
  usage: Usage | undefined;
}): ChatCompletion {
  return {
    id: p.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: p.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: p.content,
          refusal: null,
          ...(p.toolCalls.length > 0 ? { tool_calls: p.toolCalls } : {}),
          annotations: [],
        },
        finish_reason: p.finishReason,
        logprobs: null,
      },
    ],
    ...(p.usage ? { usage: p.usage } : {}),
    service_tier: 'default',
    system_fingerprint: 'fp_0penai0dbl',
  };
}

export function errorBody(
  message: string,
  type: string,
  code: string | null = null,
  param: string | null = null,
): ErrorBody {
  return { error: { message, type, param, code } };
}

/** OpenAI's answers to a missing and to a wrong key (status 401). */
export function authError(presented: string | undefined): ErrorBody {
  if (!presented) {
    return errorBody(
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      'invalid_request_error',
    );
  }
  const masked = presented.length > 8 ? `${presented.slice(0, 3)}****${presented.slice(-4)}` : '****';
  return errorBody(
    `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`,
    'invalid_request_error',
    'invalid_api_key',
  );
}

/**
 * OpenAI's answer to a request whose messages do not fit the model's context window: a 400 with `param: "messages"`
 * and `code: "context_length_exceeded"` (the figures are the double's, the words OpenAI's).
 */
export function contextLengthError(): ErrorBody {
  return {
    error: {
      message:
        "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. Please reduce the length of the messages.",
      type: 'invalid_request_error',
      param: 'messages',
      code: 'context_length_exceeded',
    },
  };
}

/** The bodies OpenAI answers an injected fault with, by status. */
export function faultError(
  status: 400 | 429 | 500 | 503,
  model: string,
  retryAfterSeconds: number,
): ErrorBody {
  switch (status) {
    case 400:
      // What a proxy or a gateway in front of the model answers for a request it will not take.
      return errorBody(
        `The model ${model} cannot take this request right now.`,
        'invalid_request_error',
        'invalid_request',
      );
    case 429:
      return errorBody(
        `Rate limit reached for ${model} on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in ${retryAfterSeconds}s.`,
        'requests',
        'rate_limit_exceeded',
      );
    case 500:
      return errorBody(
        'The server had an error while processing your request. Sorry about that!',
        'server_error',
      );
    case 503:
      return errorBody('The engine is currently overloaded, please try again later.', 'server_error');
  }
}

export function modelList(models: string[]): unknown {
  return {
    object: 'list',
    data: models.map(id => ({ id, object: 'model', created: 1_715_367_049, owned_by: 'system' })),
  };
}
