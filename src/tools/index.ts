// Every tool the server publishes, in the order clients list them.

import type { ToolDefinition } from './define.ts';
import { explorePrometheus } from './explore-prometheus.ts';
import { queryPrometheus } from './query-prometheus.ts';

export const tools: readonly ToolDefinition[] = [queryPrometheus, explorePrometheus];
