// Every tool the server publishes, in the order clients list them.

import { annotateIncident } from './annotate-incident.ts';
import type { ToolDefinition } from './define.ts';
import { exploreLoki } from './explore-loki.ts';
import { explorePrometheus } from './explore-prometheus.ts';
import { getIncident } from './get-incident.ts';
import { listIncidents } from './list-incidents.ts';
import { openPr } from './open-pr.ts';
import { predictorHealth } from './predictor-health.ts';
import { queryPrometheus } from './query-prometheus.ts';
import { readRepo } from './read-repo.ts';
import { runSandboxTest } from './run-sandbox-test.ts';
import { searchLoki } from './search-loki.ts';

export const tools: readonly ToolDefinition[] = [
  queryPrometheus,
  explorePrometheus,
  searchLoki,
  exploreLoki,
  predictorHealth,
  runSandboxTest,
  openPr,
  readRepo,
  listIncidents,
  getIncident,
  annotateIncident,
];
