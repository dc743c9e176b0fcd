import { z } from 'zod';
import { EventId } from './event-id.js';
import { EventType, TopicName } from './names.js';

/** The one shape every transport delivers: SSE `data:`, the WebSocket `event` frame, long polling. */
export const Envelope = z
  .object({
    id: EventId,
    topic: TopicName,
    type: EventType,
    data: z.json().describe('Any JSON value'),
    time: z.number().int().nonnegative().describe('Broker time of publication, ms since 1970'),
  })
  .strict()
  .describe('Event envelope');
export type Envelope = z.infer<typeof Envelope>;

/** What a publisher sends (HTTP body or the `event` of a WebSocket publish frame). */
export const EventInput = z
  .object({
    type: EventType,
    data: z.json().default(null),
  })
  .strict();
export type EventInput = z.infer<typeof EventInput>;
