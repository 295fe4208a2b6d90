// The chat model: ChatOpenAI against any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server).
// Non-streaming, tokens from the answer's usage: nothing reaches for a tokenizer download. Retries are the loop's
// (backoff with jitter, retry-after honoured, a circuit breaker), so the client itself retries nothing.

import type { ChatOpenAI } from '@langchain/openai';
import type { Config } from '../config.ts';

export async function createChatModel(config: Config): Promise<ChatOpenAI> {
  const { ChatOpenAI } = await import('@langchain/openai');
  return new ChatOpenAI({
    model: config.openai.model,
    // The OpenAI client insists on a key; local servers ignore it.
    apiKey: config.openai.apiKey ?? 'not-needed',
    ...(config.openai.baseUrl ? { configuration: { baseURL: config.openai.baseUrl } } : {}),
    maxRetries: 0,
    timeout: config.agent.llmTimeoutMs,
    streaming: false,
    // Not strict: OpenAI's strict mode wants every property of a tool required, which the tools' optional
    // parameters are not; and a strict tool's arguments are parsed inside the OpenAI client, which throws the
    // whole answer away on bad JSON instead of letting the loop correct the model (see investigate.ts).
    supportsStrictToolCalling: false,
  });
}

/** Whether an LLM call error is worth another attempt: rate limits, server errors, dropped connections, timeouts. */
export function retryableLlmError(error: unknown): boolean {
  const status = statusOf(error);
  if (status !== undefined) return status === 408 || status === 409 || status === 429 || status >= 500;
  const name = (error as { name?: string } | undefined)?.name ?? '';
  const code = (error as { code?: string } | undefined)?.code ?? '';
  return (
    /APIConnection|Timeout|FetchError/i.test(name) ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|UND_ERR/.test(code) ||
    /ECONNREFUSED|fetch failed|Connection error|socket hang up|timed out/i.test(String(error))
  );
}

/**
 * The endpoint refused this client, not this request: a key revoked or rotated (401), not allowed (403), a model name
 * or base URL it does not know (404). Nothing an investigation can fix, and no reason to give up on an incident.
 */
export function refusedByEndpoint(error: unknown): boolean {
  const status = statusOf(error);
  return status === 401 || status === 403 || status === 404;
}

/**
 * The conversation outgrew the model's context window: LangChain's ContextOverflowError (its wrapping of OpenAI's
 * 400 `context_length_exceeded`), or that 400 itself, or the words local servers (vLLM, llama.cpp, Ollama, LiteLLM)
 * say it with.
 */
export function contextTooLong(error: unknown): boolean {
  const e = error as
    | { name?: unknown; code?: unknown; type?: unknown; error?: { code?: unknown; type?: unknown } }
    | undefined;
  if (e?.name === 'ContextOverflowError') return true;
  if (e?.code === 'context_length_exceeded' || e?.error?.code === 'context_length_exceeded') return true;
  // llama.cpp's server: 400, type exceed_context_size_error, "the request exceeds the available context size".
  if (e?.type === 'exceed_context_size_error' || e?.error?.type === 'exceed_context_size_error') return true;
  return (
    statusOf(error) === 400 &&
    /context length|context window|context size|maximum context|prompt is too long|too many tokens|exceeds the context|exceed_context_size/i.test(
      (error as Error | undefined)?.message ?? '',
    )
  );
}

export function statusOf(error: unknown): number | undefined {
  const e = error as { status?: unknown; response?: { status?: unknown } } | undefined;
  const status = e?.status ?? e?.response?.status;
  return typeof status === 'number' ? status : undefined;
}

/** The wait a 429 or 503 asked for (retry-after-ms, or retry-after in seconds or as a date). */
export function retryAfterMsOf(error: unknown): number | undefined {
  const headers = (error as { headers?: unknown } | undefined)?.headers;
  const get = (name: string): string | undefined => {
    if (!headers) return undefined;
    if (headers instanceof Headers) return headers.get(name) ?? undefined;
    const value = (headers as Record<string, unknown>)[name];
    return typeof value === 'string' ? value : undefined;
  };
  const ms = Number(get('retry-after-ms'));
  if (Number.isFinite(ms) && ms >= 0 && get('retry-after-ms') !== undefined) return ms;
  const after = get('retry-after');
  if (after === undefined) return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
