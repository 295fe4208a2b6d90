// Bundles src/cli.ts into dist/ with esbuild. Heavy modules imported with import() become separate chunks
// that load only when used, which keeps `devops-mcp serve` quick to start.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

// The SDK's Server builds an Ajv instance unless given a validator. devops-mcp passes its own (it never
// elicits), so Ajv is dead weight at start-up: the bundle swaps the provider module for a stub that fails
// loudly if anything ever constructs it.
const withoutAjv = {
  name: 'without-ajv',
  setup(build) {
    build.onLoad(
      { filter: /@modelcontextprotocol[\\/]sdk[\\/]dist[\\/]esm[\\/]validation[\\/]ajv-provider\.js$/ },
      () => ({
        contents:
          "export class AjvJsonSchemaValidator { constructor() { throw new Error('Ajv is not bundled in devops-mcp; pass a jsonSchemaValidator'); } }",
        loader: 'js',
      }),
    );
  },
};

const root = join(import.meta.dirname, '..');
await rm(join(root, 'dist'), { recursive: true, force: true });
await build({
  entryPoints: { cli: join(root, 'src/cli.ts') },
  outdir: join(root, 'dist'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22.16',
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  plugins: [withoutAjv],
  // dockerode reaches native SSH modules through docker-modem; it loads from node_modules on first sandbox run.
  external: ['dockerode'],
  // Some dependencies are CommonJS and call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
