// POST /loki/api/v1/push bodies: JSON only (optionally gzip or deflate encoded), checked entry by entry
// so a malformed push is refused whole, as Loki refuses it.

import type { IncomingHttpHeaders } from 'node:http';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { LokiError } from './errors.ts';
import type { Labels } from './logql.ts';
import type { PushStream } from './store.ts';

const protobufUnsupported = () =>
  new LokiError(
    415,
    'the Loki test double accepts only JSON pushes (Content-Type: application/json); snappy-compressed protobuf is not supported',
  );

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isLabels = (v: unknown): v is Labels =>
  isObject(v) && Object.values(v).every(value => typeof value === 'string');

function invalid(path: string, problem: string): LokiError {
  return new LokiError(400, `invalid push request: ${path}: ${problem}`);
}

/** The streams of a push body, or the 400 naming the first thing wrong with it. */
export function validatePush(body: unknown): PushStream[] {
  if (!isObject(body) || !Array.isArray(body.streams))
    throw invalid('streams', 'must be an array of streams');
  body.streams.forEach((s: unknown, i) => {
    const at = `streams[${i}]`;
    if (!isObject(s) || !isLabels(s.stream))
      throw invalid(`${at}.stream`, 'must be an object of string labels');
    if (Object.keys(s.stream).length === 0) {
      throw new LokiError(400, 'error at least one label pair is required per stream');
    }
    if (!Array.isArray(s.values)) throw invalid(`${at}.values`, 'must be an array of entries');
    s.values.forEach((value: unknown, j) => {
      const entry = `${at}.values[${j}]`;
      if (!Array.isArray(value) || value.length < 2 || value.length > 3) {
        throw invalid(
          entry,
          'must be ["<unix epoch in nanoseconds>", "<log line>"] with optional structured metadata',
        );
      }
      if (typeof value[0] !== 'string' || !/^\d+$/.test(value[0])) {
        throw invalid(`${entry}[0]`, 'the timestamp must be a string of nanoseconds since the epoch');
      }
      if (typeof value[1] !== 'string') throw invalid(`${entry}[1]`, 'the log line must be a string');
      if (value.length === 3 && !isLabels(value[2])) {
        throw invalid(`${entry}[2]`, 'structured metadata must be an object of string values');
      }
    });
  });
  return body.streams as PushStream[];
}

function decompress(body: Buffer, encoding: string): Buffer {
  switch (encoding) {
    case '':
      return body;
    case 'gzip':
      try {
        return gunzipSync(body);
      } catch {
        throw new LokiError(400, 'gzip: invalid header');
      }
    case 'deflate':
      try {
        return inflateRawSync(body);
      } catch {
        throw new LokiError(400, 'flate: corrupt input');
      }
    case 'snappy':
      throw protobufUnsupported();
    default:
      throw new LokiError(400, `Content-Encoding "${encoding}" not supported`);
  }
}

/** The streams of an HTTP push, decoded per its Content-Encoding and Content-Type. */
export function decodePush(body: Buffer, headers: IncomingHttpHeaders): PushStream[] {
  const raw = decompress(body, headers['content-encoding'] ?? '');
  const media = (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (media === '') throw new LokiError(400, 'mime: no media type');
  if (media !== 'application/json') throw protobufUnsupported();
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new LokiError(400, `invalid push request: the body is not JSON (${(error as Error).message})`);
  }
  return validatePush(json);
}
