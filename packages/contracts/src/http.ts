import { z } from 'zod';
import { Envelope, EventInput } from './envelope.js';
import { ResetCode } from './errors.js';
import { EventId } from './event-id.js';
import { IdempotencyKey, TopicName } from './names.js';

/** Body of `POST /v1/topics/:topic/events`. */
export const PublishRequest = EventInput.extend({ key: IdempotencyKey.optional() }).strict();
export type PublishRequest = z.infer<typeof PublishRequest>;

/** `201` answer to a publish; `duplicate` is true when the key was seen and nothing was delivered. */
export const PublishResponse = z.object({ id: EventId, duplicate: z.boolean() }).strict();
export type PublishResponse = z.infer<typeof PublishResponse>;

export const ResetSignal = z.object({ code: ResetCode, topics: z.array(TopicName) }).strict();
export type ResetSignal = z.infer<typeof ResetSignal>;

/** Answer of `GET /v1/topics/:topic/events?after=&wait=` (long and short polling). */
export const PollResponse = z
  .object({
    events: z.array(Envelope),
    cursor: EventId.describe('Send as `after` on the next poll'),
    reset: ResetSignal.optional(),
  })
  .strict();
export type PollResponse = z.infer<typeof PollResponse>;

export const POLL_DEFAULT_WAIT_S = 25;
/** A poll answer holds at most this many events; `cursor` chains to the rest. */
export const POLL_PAGE_MAX_EVENTS = 100;
/** ...and at most this many bytes of envelope JSON, except that a page always holds one event. */
export const POLL_PAGE_MAX_BYTES = 262_144;
export const POLL_MAX_WAIT_S = 60;

/** `limit` of a history read when absent (at most HISTORY_SIZE). */
export const HISTORY_DEFAULT_LIMIT = 50;

/** Answer of `GET /v1/topics/:topic/history?limit=&before=`. */
export const HistoryResponse = z
  .object({
    events: z.array(Envelope).describe('The newest held events before `before` (or before now), oldest first'),
    position: EventId.describe('The broker position when the history was read: resume from it to go live with nothing missed'),
    reset: ResetSignal.optional().describe('Present when the history held no longer reaches back to fill the page'),
  })
  .strict();
export type HistoryResponse = z.infer<typeof HistoryResponse>;

/**
 * The query parameters of each endpoint, a closed set as frames are: a request naming any other
 * (`?since=` for `after=`, say) is answered 400 bad_request naming it, never silently served.
 * Values are checked where each is used (topic names, ids), with their own codes.
 */
const token = z.string().optional().describe('A bearer token, for clients that cannot send headers (PROTOCOL.md 10)');

/** `GET /v1/events`: `topic` repeated once per topic. */
export const SseQuery = z
  .object({
    topic: z.array(z.string()),
    lastEventId: z.string().optional(),
    presence: z.enum(['0', '1']).optional().describe('1: join and leave of the topics as `event: presence`'),
    token,
  })
  .strict();
/** `GET /v1/ws` (the upgrade). */
export const WsQuery = z.object({ token }).strict();
/** `POST /v1/topics/:topic/events`. */
export const PublishQuery = z.object({ token }).strict();
/** `GET /v1/topics/:topic/events`. */
export const PollQuery = z
  .object({
    after: EventId.optional(),
    wait: z.coerce.number().min(0).max(POLL_MAX_WAIT_S).default(POLL_DEFAULT_WAIT_S),
    token,
  })
  .strict();
/** `GET /v1/topics/:topic/history`; `limit`'s upper bound is the server's HISTORY_SIZE. */
export const HistoryQuery = z
  .object({
    limit: z.coerce.number().int().min(1).optional(),
    before: EventId.optional(),
    token,
  })
  .strict();
/** `GET /v1/topics/:topic/presence`. */
export const PresenceQuery = z.object({ token }).strict();
/** `/healthz` and `/metrics` take no parameters. */
export const NoQuery = z.object({}).strict();

/** The query schemas whose names are each endpoint's closed set. */
export type QuerySchema = typeof SseQuery | typeof WsQuery | typeof PublishQuery | typeof PollQuery | typeof HistoryQuery | typeof PresenceQuery | typeof NoQuery;

/** The first query parameter name `schema` does not take, if any. */
export function unknownQueryParam(params: URLSearchParams, schema: QuerySchema): string | undefined {
  for (const name of params.keys()) if (!Object.hasOwn(schema.shape, name)) return name;
  return undefined;
}

/**
 * `GET /healthz`: `ok` (200); `degraded` (503) while the broker is unreachable, so a balancer
 * sends new clients elsewhere; `draining` (503) from SIGTERM until the process exits.
 */
export const HealthResponse = z
  .object({
    status: z.enum(['ok', 'degraded', 'draining']),
    server: z.string(),
    uptimeS: z.number(),
    connections: z.number().describe('Open SSE streams, WebSockets and held polls of this process'),
    broker: z.enum(['ok', 'unavailable']).describe('Whether this process reaches its broker'),
  })
  .strict();
export type HealthResponse = z.infer<typeof HealthResponse>;
