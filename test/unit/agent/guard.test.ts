// The loop's guard hears how a model's write call ended, so that a slot it took goes back only when nothing was
// sent: here, arguments LangChain refused against the tool's schema before any MCP call.
import { DynamicStructuredTool } from '@langchain/core/tools';
import { ToolInputParsingException } from '@langchain/core/tools';
import type { ToolMessage } from '@langchain/core/messages';
import { describe, expect, it } from 'vitest';
import { createBudget } from '../../../src/agent/budgets.ts';
import { createLedger, refusedBeforeWriting } from '../../../src/agent/ledger.ts';
import { createRuntime } from '../../../src/agent/middleware.ts';
import { createCircuitBreaker } from '../../../src/lib/circuit-breaker.ts';

describe('the guard of a model call', () => {
  it('hears INVALID_ARGUMENT for arguments the tool schema refused, so the PR slot goes back', async () => {
    const tool = new DynamicStructuredTool({
      name: 'open_pr',
      description: 'x',
      schema: {
        type: 'object',
        properties: { repo: { type: 'string' }, title: { type: 'string' } },
        required: ['repo', 'title'],
        additionalProperties: false,
      },
      func: () => Promise.resolve('ok'),
    });
    const call = { id: 'c1', name: 'open_pr', args: { repo: 'acme/app' } }; // no title
    const settled: Array<{ ok: boolean; code?: string | undefined }> = [];
    const runtime = createRuntime({
      ledger: createLedger(),
      budget: createBudget({
        maxModelCalls: 10,
        maxToolCalls: 10,
        maxTokens: 1e6,
        maxSeconds: 100,
        maxCorrections: 5,
      }),
      breaker: createCircuitBreaker({ failures: 3, cooldownMs: 1000 }),
      retries: 0,
      diagnosisTool: 'diagnosis',
      offered: ['open_pr'],
      guard: () => ({ settle: outcome => settled.push(outcome) }),
      stop: new AbortController().signal,
      now: () => 0,
    });
    const handler = async () => {
      try {
        return await tool.invoke({ ...call, type: 'tool_call' });
      } catch (error) {
        if (error instanceof ToolInputParsingException)
          throw Object.assign(new Error(String(error)), { toolError: error });
        throw error;
      }
    };
    const wrap = (
      runtime.middleware as unknown as { wrapToolCall: (r: unknown, h: unknown) => Promise<ToolMessage> }
    ).wrapToolCall;
    const message = await wrap({ toolCall: call }, handler);
    expect(message.content).toMatch(/^INVALID_ARGUMENT: /);
    expect(settled).toEqual([{ ok: false, code: 'INVALID_ARGUMENT' }]);
    expect(refusedBeforeWriting(settled[0]?.code)).toBe(true);
  });
});
