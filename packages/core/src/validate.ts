import { type ErrorCode, EventType, type QuerySchema, TopicName, unknownQueryParam } from '@relaykit/contracts';

type JsonValue = z.core.util.JSONType;
import type { z } from 'zod';
import { RelayError } from './errors.js';

/** Maps a schema failure to the most specific error code, so clients can react to the cause. */
export function codeForIssues(issues: readonly z.core.$ZodIssue[]): ErrorCode {
  for (const issue of issues) {
    const last = issue.path[issue.path.length - 1];
    // A topic name that fails its schema; an empty or missing `topics` list is a bad request, as on SSE.
    if (last === 'topic' || (issue.path.includes('topics') && typeof last === 'number')) return 'invalid_topic';
    if (last === 'type') return 'invalid_event_type';
  }
  return 'bad_request';
}

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 3)
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

export function checkTopic(topic: string): string {
  const result = TopicName.safeParse(topic);
  if (!result.success) throw new RelayError('invalid_topic', `invalid topic ${JSON.stringify(topic.slice(0, 140))}: ${result.error.issues[0]?.message}`);
  return topic;
}

export function checkEventType(type: unknown): string {
  const result = EventType.safeParse(type);
  if (!result.success) throw new RelayError('invalid_event_type', result.error.issues[0]?.message ?? 'invalid event type');
  return result.data;
}

/** Byte length of a UTF-8 string without allocating, for the message size limit. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    // A surrogate half is 2 of its pair's 4 bytes; any other unit from U+0800 is 3 bytes.
    bytes += code < 0x800 || (code >= 0xd800 && code <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}

/**
 * The published `data` exactly as JSON.parse made it, once the schema has accepted it. zod copies
 * records key by key, and assigning a `__proto__` key drops it (or sets the copy's prototype), so
 * the validated copy is not what the publisher sent.
 */
export function rawJson(data: unknown): JsonValue {
  return (data ?? null) as JsonValue;
}

/** Refuses a query parameter the endpoint does not take (its closed set in the contracts) with 400 bad_request naming it. */
export function checkQuery(params: URLSearchParams, schema: QuerySchema): void {
  const unknown = unknownQueryParam(params, schema);
  if (unknown === undefined) return;
  const known = Object.keys(schema.shape);
  throw new RelayError(
    'bad_request',
    `unknown query parameter ${JSON.stringify(unknown.slice(0, 64))}; this endpoint takes ${known.length ? known.join(', ') : 'none'}`,
  );
}
