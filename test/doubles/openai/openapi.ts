// Validators for the Chat Completions shapes of OpenAI's OpenAPI description (the excerpt in fixtures/,
// with its source), used by the double to refuse malformed requests as the API would, and by the
// contract test to hold the double's answers to the documented responses.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

interface Excerpt {
  _source: { repository: string; path: string; commit: string };
  schemas: Record<string, unknown>;
}

export type SchemaName =
  | 'CreateChatCompletionRequest'
  | 'CreateChatCompletionResponse'
  | 'ErrorResponse'
  | 'ListModelsResponse'
  | 'Model';

export interface Contract {
  source: Excerpt['_source'];
  /** Schema violations of value against a named schema of the description; [] when it conforms. */
  violations(name: SchemaName, value: unknown): string[];
}

const ID = 'https://openai.example/openapi.json';

/**
 * The description is OpenAPI 3.1 (JSON Schema 2020-12) but still carries some 3.0 `nullable: true`:
 * read as a null type beside the declared one, or an anyOf with null where there is no type.
 */
function fromOpenApi(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(fromOpenApi);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === 'example' || key === 'examples' || key === 'default' ? value : fromOpenApi(value);
  }
  if (out.nullable !== true) return out;
  delete out.nullable;
  if (typeof out.type === 'string') return { ...out, type: [out.type, 'null'] };
  return { anyOf: [{ type: 'null' }, out] };
}

// ajv-formats is CommonJS with a default export; under NodeNext its namespace is what `import` yields.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

let cached: Contract | undefined;

/** Compiled on first use (about 100 kB of schemas), then shared by every double of the process. */
export function loadContract(): Contract {
  if (cached) return cached;
  const file = join(import.meta.dirname, 'fixtures', 'chat-completions.openapi.json');
  const excerpt = JSON.parse(readFileSync(file, 'utf8')) as Excerpt;
  // x- keywords, `discriminator` and `example` sit in the schemas, so strict mode is off.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  // OpenAI's own format for Unix timestamps in seconds.
  ajv.addFormat('unixtime', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 });
  const text = JSON.stringify(fromOpenApi(excerpt.schemas)).replaceAll(
    '"#/components/schemas/',
    `"${ID}#/components/schemas/`,
  );
  ajv.addSchema({ $id: ID, components: { schemas: JSON.parse(text) as unknown } });
  const compiled = new Map<SchemaName, ValidateFunction>();

  cached = {
    source: excerpt._source,
    violations(name, value) {
      let validate = compiled.get(name);
      if (!validate) {
        validate = ajv.compile({ $ref: `${ID}#/components/schemas/${name}` });
        compiled.set(name, validate);
      }
      if (validate(value)) return [];
      return (validate.errors ?? []).map(
        e => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
      );
    },
  };
  return cached;
}
