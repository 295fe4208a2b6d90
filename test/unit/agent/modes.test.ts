import { describe, expect, it } from 'vitest';
import { effectiveMode, offered, repoCap } from '../../../src/agent/modes.ts';
import { loadConfig } from '../../../src/config.ts';

const tools = [
  { name: 'query_prometheus', readOnly: true },
  { name: 'annotate_incident', readOnly: false },
  { name: 'run_sandbox_test', readOnly: false },
  { name: 'open_pr', readOnly: false },
  { name: 'some_new_writer', readOnly: false },
];
const names = (mode: 'observe' | 'propose' | 'autonomous') =>
  tools.filter(t => offered(t, mode)).map(t => t.name);

describe('graduated autonomy', () => {
  it('offers read-only tools and annotate_incident in observe, adds the sandbox in propose and open_pr in autonomous', () => {
    expect(names('observe')).toEqual(['query_prometheus', 'annotate_incident']);
    expect(names('propose')).toEqual(['query_prometheus', 'annotate_incident', 'run_sandbox_test']);
    expect(names('autonomous')).toEqual([
      'query_prometheus',
      'annotate_incident',
      'run_sandbox_test',
      'open_pr',
    ]);
  });

  it('caps the mode at the highest repository cap, and at observe while paused', async () => {
    const withFile = await loadConfig({
      env: { DEVOPS_MCP_CONFIG: 'x.json' },
      readFile: () =>
        JSON.stringify({
          repos: {
            'acme/a': { source: { path: '/a' }, agent: { maxMode: 'propose' } },
            'acme/b': { source: { path: '/b' }, agent: { maxMode: 'observe' } },
          },
        }),
    });
    expect(effectiveMode('autonomous', withFile, false)).toBe('propose');
    expect(effectiveMode('autonomous', withFile, true)).toBe('observe');
    expect(repoCap(withFile, 'acme/b')).toBe('observe');
    expect(repoCap(withFile, 'acme/unknown')).toBe('observe');
    // Any spelling of a name the tools would accept gets that repository's cap.
    expect(repoCap(withFile, 'ACME/A')).toBe('propose');
    // No repository configured: nothing to act on.
    expect(effectiveMode('autonomous', await loadConfig({ env: {} }), false)).toBe('observe');
  });
});
