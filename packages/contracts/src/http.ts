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

export const PollQuery = z.object({
  after: EventId.optional(),
  wait: z.coerce.number().min(0).max(POLL_MAX_WAIT_S).default(POLL_DEFAULT_WAIT_S),
});

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
