import { z } from 'zod';
import { TopicName } from './names.js';

/** One connection that holds a topic (an SSE stream or a WebSocket; long polls are not members). */
export const PresenceMember = z
  .object({
    connectionId: z.string().describe('The WebSocket welcome\'s connectionId, or the SSE stream\'s Relaykit-Connection-Id header'),
    user: z.string().optional().describe("The token's subject (`sub`); absent when auth is off"),
    transport: z.enum(['sse', 'ws']),
    since: z.number().int().describe('When it took the topic, ms since 1970'),
  })
  .strict();
export type PresenceMember = z.infer<typeof PresenceMember>;

/** Answer of `GET /v1/topics/:topic/presence`, and (with `type` and `ref`) of a WebSocket `presence` frame. */
export const PresenceResponse = z
  .object({
    topic: TopicName,
    count: z.number().int().nonnegative().describe('Connections that hold the topic'),
    users: z.number().int().nonnegative().describe('Distinct users among them; a member without a user counts as one'),
    members: z.array(PresenceMember).describe('Every member, oldest first; empty when truncated'),
    truncated: z.boolean().describe('More than PRESENCE_MAX_MEMBERS members: only the counts are kept'),
  })
  .strict();
export type PresenceResponse = z.infer<typeof PresenceResponse>;

/** A join or a leave, as a WebSocket `presence` frame carries it and an SSE `event: presence` (no `id:`). */
export const PresenceChange = z
  .object({ topic: TopicName, action: z.enum(['join', 'leave']), member: PresenceMember })
  .strict();
export type PresenceChange = z.infer<typeof PresenceChange>;

/**
 * Joins and leaves of one topic are gathered for this long and then sent, a join and a leave of
 * the same connection within it cancelling out: a reconnect storm costs one frame per connection
 * that really came or went, at most one batch per topic per interval.
 */
export const PRESENCE_COALESCE_MS = 250;
