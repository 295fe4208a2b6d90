// What a tool is: data (name, description, zod input and output, annotations) plus a handler.

import type { z } from 'zod';
import type { Context } from '../context.ts';

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** What a handler gets besides its input: the shared context and this call's signal and progress. */
export interface ToolContext extends Context {
  signal: AbortSignal;
  /** Reports progress when the client asked for it; a no-op otherwise. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
}

export interface ToolDefinition<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: I;
  output: O;
  annotations: ToolAnnotations;
  run(input: z.output<I>, ctx: ToolContext): Promise<z.input<O>>;
}

export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(
  definition: ToolDefinition<I, O>,
): ToolDefinition<I, O> {
  return definition;
}
