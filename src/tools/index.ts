// Every tool the server publishes, in the order clients list them.

import type { ToolDefinition } from './define.ts';
import { exploreLoki } from './explore-loki.ts';
import { explorePrometheus } from './explore-prometheus.ts';
import { predictorHealth } from './predictor-health.ts';
import { queryPrometheus } from './query-prometheus.ts';
import { runSandboxTest } from './run-sandbox-test.ts';
import { searchLoki } from './search-loki.ts';

export const tools: readonly ToolDefinition[] = [
  queryPrometheus,
  explorePrometheus,
  searchLoki,
  exploreLoki,
  predictorHealth,
  runSandboxTest,
];
