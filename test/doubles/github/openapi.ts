// Looks up the response schema GitHub's OpenAPI description gives an operation and status, and validates
// a body against it. The description is @octokit/openapi's api.github.com.json (package 23.0.2, built from
// github/rest-api-description for api.github.com), read once per suite: about 13 MB.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

interface Description {
  info: { version: string };
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
  components: { responses: Record<string, unknown>; schemas: Record<string, unknown> };
}

export interface Contract {
  /** The @octokit/openapi package version the description came with. */
  version: string;
  /** The operationId for method and path template, e.g. ('post', '/repos/{owner}/{repo}/git/refs'). */
  operationId(method: string, path: string): string;
  /** Schema violations of body as the response of that operation with that status; [] when it conforms. */
  violations(method: string, path: string, status: number, body: unknown): string[];
  /** The documented responses of an operation, by status. */
  responses(method: string, path: string): Record<string, unknown>;
  /** Schema violations of body against a named component schema, e.g. 'basic-error'. */
  schemaViolations(name: string, body: unknown): string[];
}

const ID = 'https://api.github.com/openapi.json';

/**
 * OpenAPI 3.0's `nullable: true` as JSON Schema: a null type beside the declared one, or (next to $ref,
 * allOf, anyOf, oneOf with no type of its own) an anyOf with null.
 */
function fromOpenApi(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(fromOpenApi);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    // `properties` and the like map names to schemas; their keys are never keywords.
    out[key] = key === 'example' || key === 'examples' ? value : fromOpenApi(value);
  }
  if (out.nullable !== true) return out;
  delete out.nullable;
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...(out.enum as unknown[]), null];
  if (typeof out.type === 'string') return { ...out, type: [out.type, 'null'] };
  return { anyOf: [{ type: 'null' }, out] };
}

// ajv-formats is CommonJS with a default export; under NodeNext its namespace is what `import` yields.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export function loadContract(): Contract {
  const require = createRequire(import.meta.url);
  const file = require.resolve('@octokit/openapi/generated/api.github.com.json');
  const doc = JSON.parse(readFileSync(file, 'utf8')) as Description;
  // The description is OpenAPI 3.0: `nullable`, `example`, `discriminator` and x- keywords sit in its
  // schemas, so strict mode is off; formats (date-time, uri, email) are still checked.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ $id: ID, components: fromOpenApi(doc.components) });
  const compiled = new Map<string, ValidateFunction>();

  function operation(method: string, path: string) {
    const op = doc.paths[path]?.[method.toLowerCase()];
    if (!op) throw new Error(`the OpenAPI description has no ${method.toUpperCase()} ${path}`);
    return op;
  }

  function schemaFor(method: string, path: string, status: number): unknown {
    let response = operation(method, path).responses[String(status)] as Record<string, unknown> | undefined;
    if (!response) throw new Error(`${method.toUpperCase()} ${path} documents no ${status} response`);
    const ref = response.$ref;
    if (typeof ref === 'string') {
      response = doc.components.responses[ref.replace('#/components/responses/', '')] as Record<
        string,
        unknown
      >;
    }
    const content = response.content as Record<string, { schema?: unknown }> | undefined;
    const schema = content?.['application/json']?.schema;
    if (schema === undefined)
      throw new Error(`${method.toUpperCase()} ${path} ${status} documents no JSON body`);
    return schema;
  }

  function check(key: string, schema: () => unknown, body: unknown): string[] {
    let validate = compiled.get(key);
    if (!validate) {
      // The operation's own schema is inline; its $refs point into components, held under ID.
      const text = JSON.stringify(fromOpenApi(schema())).replaceAll('"#/components/', `"${ID}#/components/`);
      validate = ajv.compile(JSON.parse(text) as object);
      compiled.set(key, validate);
    }
    if (validate(body)) return [];
    return (validate.errors ?? []).map(
      e => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
    );
  }

  return {
    version: doc.info.version,
    responses: (method, path) => operation(method, path).responses,
    schemaViolations: (name, body) =>
      check(`schema ${name}`, () => ({ $ref: `#/components/schemas/${name}` }), body),
    operationId: (method, path) => operation(method, path).operationId,
    violations: (method, path, status, body) =>
      check(`${method} ${path} ${status}`, () => schemaFor(method, path, status), body),
  };
}
