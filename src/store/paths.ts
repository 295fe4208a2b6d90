// Where the store lives when DEVOPS_MCP_DB is not set: the XDG state directory, else ~/.local/state.

import { join } from 'node:path';

export function defaultDbPath(env: Record<string, string | undefined>, home: string): string {
  const state = env.XDG_STATE_HOME?.trim();
  // The XDG spec ignores relative paths in its variables.
  const base = state !== undefined && state.startsWith('/') ? state : join(home, '.local', 'state');
  return join(base, 'devops-mcp', 'devops-mcp.db');
}
