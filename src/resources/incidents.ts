// Incident resources: `incident://active`, the template `incident://{id}` (listed, with completion of `id`),
// subscriptions, and the notifications that go out when incidents change.

import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CompleteRequestSchema,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type ReadResourceResult,
} from '@modelcontextprotocol/sdk/types.js';
import type { Context } from '../context.ts';
import { cutLine } from '../lib/logs.ts';
import { redactJson } from '../lib/redact.ts';
import {
  ACTIVE_URI,
  cutText,
  incidentUri,
  incidentView,
  listView,
  transcriptView,
} from '../incidents/view.ts';
import { PROMPT_NAME } from '../prompts/investigate-incident.ts';

export const INCIDENT_TEMPLATE = 'incident://{id}';
export const TRANSCRIPT_TEMPLATE = 'incident://{id}/investigations/{n}';
const MIME = 'application/json';
/** Incidents resources/list names besides incident://active. */
const RECENT = 50;
const COMPLETIONS = 100;
/** Characters of an incident's title in resources/list: RECENT of them stay a small answer. */
const LIST_TITLE = 120;
// The MCP specification's code for an unknown resource.
const RESOURCE_NOT_FOUND = -32002;
const MAX_URI_CHARS = 200;

type Target =
  | { kind: 'active' }
  | { kind: 'incident'; id: number }
  | { kind: 'transcript'; id: number; investigation: number };

/**
 * The resource a URI names; undefined unless it is spelled as this server spells it (no leading zeros), since
 * subscriptions and their notifications match URIs as strings.
 */
function parseUri(uri: string): Target | undefined {
  if (uri === ACTIVE_URI) return { kind: 'active' };
  const match = /^incident:\/\/([1-9]\d{0,14})(?:\/investigations\/([1-9]\d{0,14}))?$/.exec(uri);
  if (match?.[1] === undefined) return undefined;
  if (match[2] !== undefined)
    return { kind: 'transcript', id: Number(match[1]), investigation: Number(match[2]) };
  return { kind: 'incident', id: Number(match[1]) };
}

function notFound(uri: string): McpError {
  // The caller's URI, at any length: quoted back only as far as it is worth recognising.
  const shown = cutLine(uri, MAX_URI_CHARS);
  return new McpError(
    RESOURCE_NOT_FOUND,
    `Resource not found: ${shown}. Incidents are incident://active and incident://{id}; resources/list names recent ones.`,
    { uri: shown },
  );
}

/** The text of a resource, as read; undefined when it does not exist. */
export async function readIncidentResource(ctx: Context, uri: string): Promise<string | undefined> {
  const target = parseUri(uri);
  if (!target) return undefined;
  const store = await ctx.store();
  const maxBytes = ctx.config.output.maxBytes;
  const view =
    target.kind === 'active'
      ? listView(store.incidents.active(), maxBytes, 'active incidents', {
          pending: store.incidents.pendingAlerts(10),
          redact: ctx.redact,
        })
      : target.kind === 'incident'
        ? incidentView(
            store.incidents,
            target.id,
            maxBytes,
            ctx.config.incidents.quietSeconds,
            store.agent,
            ctx.redact,
          )
        : transcriptView(store.agent, target.id, target.investigation, ctx.config.output.maxBytesFull);
  return view === undefined ? undefined : redactJson(view, ctx.redact).text;
}

export function registerIncidentResources(server: Server, ctx: Context): void {
  const subscribed = new Set<string>();
  let releaseWatch: (() => void) | undefined;
  const log = ctx.logger.child({ component: 'resources' });

  const send = (what: string, promise: Promise<void>) => {
    promise.catch((error: unknown) => {
      log.debug({ err: error }, 'could not send %s', what);
    });
  };
  const stopListening = ctx.changes.subscribe(changes => {
    if (changes.some(c => c.opened === true || c.closed === true))
      send('list_changed', server.sendResourceListChanged());
    if (subscribed.has(ACTIVE_URI)) send('updated', server.sendResourceUpdated({ uri: ACTIVE_URI }));
    for (const id of new Set(changes.map(c => c.id))) {
      const uri = incidentUri(id);
      if (subscribed.has(uri)) send('updated', server.sendResourceUpdated({ uri }));
    }
  });
  const previousOnClose = server.onclose;
  server.onclose = () => {
    stopListening();
    releaseWatch?.();
    previousOnClose?.();
  };

  server.setRequestHandler(ListResourcesRequestSchema, async () => {
    const store = await ctx.store();
    const recent = store.incidents.list({ status: 'all', limit: RECENT });
    return {
      resources: [
        {
          uri: ACTIVE_URI,
          name: 'active-incidents',
          title: 'Active incidents',
          description:
            'Open and acknowledged incidents: id, title, severity, status, alert counts, last event.',
          mimeType: MIME,
        },
        ...recent.map(row => ({
          uri: incidentUri(row.id),
          name: `incident-${row.id}`,
          title: `#${row.id} ${cutText(ctx.redact(row.title), LIST_TITLE)} (${row.status})`,
          mimeType: MIME,
        })),
      ],
    };
  });

  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [
      {
        uriTemplate: INCIDENT_TEMPLATE,
        name: 'incident',
        title: 'Incident',
        description:
          'One incident: its alerts (labels, annotations, generator links), recent timeline, findings, actions and links.',
        mimeType: MIME,
      },
      {
        uriTemplate: TRANSCRIPT_TEMPLATE,
        name: 'investigation-transcript',
        title: 'Investigation transcript',
        description:
          "The headless loop's full record of one investigation of an incident: messages, tool calls, tokens, durations.",
        mimeType: MIME,
      },
    ],
  }));

  server.setRequestHandler(ReadResourceRequestSchema, async (request): Promise<ReadResourceResult> => {
    const { uri } = request.params;
    const text = await readIncidentResource(ctx, uri);
    if (text === undefined) throw notFound(uri);
    return { contents: [{ uri, mimeType: MIME, text }] };
  });

  server.setRequestHandler(SubscribeRequestSchema, async request => {
    const { uri } = request.params;
    const target = parseUri(uri);
    if (!target) throw notFound(uri);
    if (target.kind === 'incident' && !(await ctx.store()).incidents.get(target.id)) throw notFound(uri);
    if (target.kind === 'transcript') {
      // A transcript is written once, when its investigation ends, and that ending updates incident://{id} (its
      // diagnosis) too; no notification is ever sent for the transcript itself, so a subscription to it is refused
      // rather than left silent.
      const run = (await ctx.store()).agent.investigation(target.investigation);
      if (run?.incidentId !== target.id) throw notFound(uri);
      throw new McpError(
        ErrorCode.InvalidParams,
        `${uri} does not send updates: a transcript is written once, when its investigation ends. Subscribe to ${incidentUri(target.id)}, whose diagnosis changes then.`,
        { uri },
      );
    }
    subscribed.add(uri);
    releaseWatch ??= ctx.changes.watch();
    return {};
  });

  server.setRequestHandler(UnsubscribeRequestSchema, request => {
    subscribed.delete(request.params.uri);
    if (subscribed.size === 0) {
      releaseWatch?.();
      releaseWatch = undefined;
    }
    return {};
  });

  server.setRequestHandler(CompleteRequestSchema, async request => {
    const { ref, argument } = request.params;
    const forId =
      argument.name === 'id' &&
      ((ref.type === 'ref/resource' && ref.uri === INCIDENT_TEMPLATE) ||
        (ref.type === 'ref/prompt' && ref.name === PROMPT_NAME));
    if (!forId) return { completion: { values: [], hasMore: false } };
    if (!/^\d*$/.test(argument.value)) return { completion: { values: [], hasMore: false } };
    const ids = (await ctx.store()).incidents.ids(argument.value, COMPLETIONS + 1);
    return {
      completion: {
        values: ids.slice(0, COMPLETIONS).map(String),
        hasMore: ids.length > COMPLETIONS,
      },
    };
  });
}
