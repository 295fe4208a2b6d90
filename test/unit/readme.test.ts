import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withToolTable } from '../../scripts/readme-tools.ts';
import { ENV_SETTINGS } from '../../src/config.ts';

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

describe('README', () => {
  it('has the tool table the definitions generate (run `node scripts/readme-tools.ts`)', () => {
    expect(readme).toBe(withToolTable(readme));
  });

  it('documents every environment variable', () => {
    for (const { env } of ENV_SETTINGS) expect(readme).toContain(`\`${env}\``);
    expect(readme).toContain('`DEVOPS_MCP_CONFIG`');
  });
});
