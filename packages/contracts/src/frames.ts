import { z } from 'zod';
import { Envelope, EventInput } from './envelope.js';
import { ErrorCode, ResetCode } from './errors.js';
import { EventId } from './event-id.js';
import { IdempotencyKey, TopicName } from './names.js';
import { PresenceChange, PresenceResponse } from './presence.js';

/** Client-chosen correlation id echoed in `ack` and `error`. */
export const Ref = z.union([z.string().max(128), z.number()]).describe('Client correlation id');
const Topics = z.array(TopicName).min(1);

// ---- client -> server -------------------------------------------------------------------------

export const SubscribeFrame = z
  .object({
    type: z.literal('subscribe'),
    topics: Topics,
    lastEventId: EventId.optional(),
    presence: z.boolean().optional().describe('true: join and leave of these topics as `presence` frames'),
    ref: Ref.optional(),
  })
  .strict();
export const UnsubscribeFrame = z
  .object({ type: z.literal('unsubscribe'), topics: Topics, ref: Ref.optional() })
  .strict();
export const PublishFrame = z
  .object({
    type: z.literal('publish'),
    topic: TopicName,
    event: EventInput,
    ref: Ref.optional(),
    key: IdempotencyKey.optional(),
  })
  .strict();
export const PingFrame = z.object({ type: z.literal('ping'), ref: Ref.optional() }).strict();
/** Replaces the connection's token before its `exp`, so that the connection stays open (§10). */
export const RefreshFrame = z
  .object({ type: z.literal('refresh'), token: z.string().min(1).max(16_384), ref: Ref.optional() })
  .strict();

/** Asks who holds a topic; answered by a `presence_state` frame (needs the subscribe grant). */
export const PresenceRequestFrame = z.object({ type: z.literal('presence'), topic: TopicName, ref: Ref.optional() }).strict();

export const ClientFrame = z
  .discriminatedUnion('type', [SubscribeFrame, UnsubscribeFrame, PublishFrame, PingFrame, RefreshFrame, PresenceRequestFrame])
  .describe('WebSocket frame sent by a client');
export type ClientFrame = z.infer<typeof ClientFrame>;
export type SubscribeFrame = z.infer<typeof SubscribeFrame>;
export type UnsubscribeFrame = z.infer<typeof UnsubscribeFrame>;
export type PublishFrame = z.infer<typeof PublishFrame>;
export type RefreshFrame = z.infer<typeof RefreshFrame>;
export type PresenceRequestFrame = z.infer<typeof PresenceRequestFrame>;

export const CLIENT_FRAME_TYPES = ['subscribe', 'unsubscribe', 'publish', 'ping', 'refresh', 'presence'] as const;

// ---- server -> client -------------------------------------------------------------------------

export const PROTOCOL_VERSION = '1';

export const WelcomeFrame = z
  .object({
    type: z.literal('welcome'),
    version: z.string(),
    connectionId: z.string(),
    heartbeatMs: z.number().int().positive(),
    historySize: z.number().int().nonnegative(),
    maxMessageBytes: z.number().int().positive(),
    maxJsonDepth: z.number().int().positive().describe('Deepest nesting allowed in published data (MAX_JSON_DEPTH)'),
    maxTopics: z.number().int().positive(),
    position: EventId.describe('The broker position when the connection opened'),
    server: z.string().describe('Runtime that serves this connection, e.g. node, bun, deno'),
  })
  .strict();
export const SubscribedFrame = z
  .object({ type: z.literal('subscribed'), topics: z.array(TopicName), ref: Ref.optional() })
  .strict();
export const UnsubscribedFrame = z
  .object({ type: z.literal('unsubscribed'), topics: z.array(TopicName), ref: Ref.optional() })
  .strict();
export const EventFrame = z.object({ type: z.literal('event'), event: Envelope }).strict();
export const AckFrame = z
  .object({ type: z.literal('ack'), ref: Ref, id: EventId, duplicate: z.boolean().optional() })
  .strict();
export const ErrorFrame = z
  .object({ type: z.literal('error'), code: ErrorCode, message: z.string(), ref: Ref.optional() })
  .strict();
export const PongFrame = z.object({ type: z.literal('pong'), ref: Ref.optional() }).strict();
/** A `refresh` took effect: the connection now lives until the new token's `exp`. */
export const RefreshedFrame = z
  .object({
    type: z.literal('refreshed'),
    expiresAt: z.number().int().positive().optional().describe("The new token's `exp`, in ms since the epoch; absent when it has none"),
    ref: Ref.optional(),
  })
  .strict();
export const ResetFrame = z
  .object({
    type: z.literal('reset'),
    code: ResetCode,
    topics: z.array(TopicName),
    position: EventId.describe('The broker position; replayed events that follow are older'),
  })
  .strict();

/** A join or a leave on a topic subscribed with `presence: true`. */
export const PresenceFrame = PresenceChange.extend({ type: z.literal('presence') }).strict();
/** The answer to a `presence` request frame: what `GET /v1/topics/:topic/presence` answers. */
export const PresenceStateFrame = PresenceResponse.extend({ type: z.literal('presence_state'), ref: Ref.optional() }).strict();

export const ServerFrame = z
  .discriminatedUnion('type', [
    PresenceFrame,
    PresenceStateFrame,
    WelcomeFrame,
    SubscribedFrame,
    UnsubscribedFrame,
    EventFrame,
    AckFrame,
    ErrorFrame,
    PongFrame,
    RefreshedFrame,
    ResetFrame,
  ])
  .describe('WebSocket frame sent by a server');
export type ServerFrame = z.infer<typeof ServerFrame>;
export type WelcomeFrame = z.infer<typeof WelcomeFrame>;
export type ResetFrame = z.infer<typeof ResetFrame>;
export type ErrorFrame = z.infer<typeof ErrorFrame>;
export type AckFrame = z.infer<typeof AckFrame>;
export type RefreshedFrame = z.infer<typeof RefreshedFrame>;
export type PresenceFrame = z.infer<typeof PresenceFrame>;
export type PresenceStateFrame = z.infer<typeof PresenceStateFrame>;
