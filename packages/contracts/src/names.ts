import { z } from 'zod';

/**
 * Topic names travel in URL paths and query strings and as Bun pub/sub keys, so they are
 * restricted to characters that need no escaping anywhere.
 */
export const TopicName = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'topic must be 1-128 characters of A-Z a-z 0-9 _ . : -')
  // URL parsers collapse `.` and `..` path segments, so /v1/topics/../events could never reach them.
  .refine((t) => t !== '.' && t !== '..', { message: 'topic must not be "." or ".."' })
  .describe('Topic name: 1-128 characters of A-Z a-z 0-9 _ . : -, not "." or ".."');

/** Event types that the protocol itself uses on the SSE stream; applications may not publish them. */
export const RESERVED_EVENT_TYPES = ['reset', 'message', 'error', 'presence'] as const;

/**
 * Event types become the SSE `event:` field, so CR and LF must never reach them; the charset
 * excludes every control character by construction.
 */
export const EventType = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'event type must be 1-64 characters of A-Z a-z 0-9 _ . : -')
  .refine((t) => !(RESERVED_EVENT_TYPES as readonly string[]).includes(t), {
    message: `event type must not be one of the reserved types: ${RESERVED_EVENT_TYPES.join(', ')}`,
  })
  .describe('Application event type (SSE `event:` field); reserved: reset, message, error, presence');

/** Idempotency key of a publish: a retry with the same key returns the original id. */
export const IdempotencyKey = z.string().min(1).max(128).describe('Publish idempotency key');

export type TopicName = z.infer<typeof TopicName>;
export type EventType = z.infer<typeof EventType>;
