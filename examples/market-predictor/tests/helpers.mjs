// Shared by the test files: a strict reader of the Prometheus text format, and small HTTP helpers.

import assert from 'node:assert/strict';
import { startPredictor } from '../src/app.mjs';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const LABELS = new RegExp(`^(?:${LABEL}(?:,${LABEL})*)?$`);
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;

const unescape = value => value.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));

/**
 * Parses exposition format 0.0.4, failing the test on anything malformed: every family needs # HELP then
 * # TYPE before its samples, and a sample must belong to the family above it. Returns a Map from family
 * name to { name, help, type, samples: [{ name, labels, value }] }.
 */
export function parseExposition(text) {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a line feed');
  const families = new Map();
  let family;
  for (const line of text.slice(0, -1).split('\n')) {
    const help = new RegExp(`^# HELP (${NAME}) (.+)$`).exec(line);
    if (help) {
      assert.ok(!families.has(help[1]), `one HELP for ${help[1]}`);
      family = { name: help[1], help: help[2], type: undefined, samples: [] };
      families.set(help[1], family);
      continue;
    }
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      assert.equal(families.get(type[1]), family, `TYPE ${type[1]} right after its HELP`);
      assert.equal(family.type, undefined, `one TYPE for ${type[1]}`);
      family.type = type[2];
      continue;
    }
    const sample = SAMPLE.exec(line);
    assert.ok(sample, `malformed line: ${JSON.stringify(line)}`);
    const [, name, labelText = '', value] = sample;
    assert.match(labelText, LABELS, `malformed labels in ${line}`);
    assert.match(value, VALUE, `malformed value in ${line}`);
    assert.ok(family?.type, `${name} after a HELP and a TYPE`);
    const suffixes = family.type === 'histogram' ? ['_bucket', '_sum', '_count'] : [''];
    assert.ok(
      suffixes.some(suffix => `${family.name}${suffix}` === name),
      `${name} under the HELP and TYPE of ${family.name}`,
    );
    const labels = Object.fromEntries(
      [...labelText.matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, unescape(v)]),
    );
    family.samples.push({ name, labels, value: Number(value.replace(/^\+?Inf$/, 'Infinity')) });
  }
  return families;
}

/** The sum of a family's samples named `name` whose labels pass `filter`. */
export function total(families, name, filter = () => true) {
  const familyName = name.replace(/_(bucket|sum|count)$/, '');
  const family = families.get(name) ?? families.get(familyName);
  return (family?.samples ?? [])
    .filter(s => s.name === name && filter(s.labels))
    .reduce((sum, s) => sum + s.value, 0);
}

export async function scrape(url) {
  return parseExposition(await (await fetch(`${url}/metrics`)).text());
}

/** Starts a predictor on a free loopback port whose log entries land in the returned array. */
export async function startCapturing(options = {}) {
  const logs = [];
  const predictor = await startPredictor({ port: 0, log: entry => logs.push(entry), ...options });
  return { predictor, logs };
}

/** GET /predict `times` times, one after the other; the statuses in order. */
export async function predictMany(url, times, symbol = 'ACME') {
  const statuses = [];
  for (let i = 0; i < times; i++) {
    const response = await fetch(`${url}/predict?symbol=${symbol}`);
    await response.arrayBuffer();
    statuses.push(response.status);
  }
  return statuses;
}

export async function getJson(url) {
  const response = await fetch(url);
  return { status: response.status, headers: response.headers, body: await response.json() };
}

export async function sendJson(url, method, body) {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Polls `condition` (which may be async) every 50 ms; fails the test after `ms`. */
export async function waitFor(condition, ms = 5000) {
  for (const deadline = Date.now() + ms; !(await condition());) {
    assert.ok(Date.now() < deadline, 'timed out waiting');
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}
