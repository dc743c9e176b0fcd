/**
 * The SSE wire codec (WHATWG HTML, "Server-sent events"). Servers encode each event once and hand
 * the same bytes to every subscriber, so these return strings the caller encodes a single time.
 */

const LINE_BREAK = /\r\n|\r|\n/;

/** Fields that the spec reads to end of line: a CR or LF inside them would forge a new field. */
function assertSingleLine(name: string, value: string): void {
  if (value.includes('\n') || value.includes('\r')) throw new Error(`SSE ${name} must not contain CR or LF`);
}

export interface SseEventFields {
  id?: string;
  event?: string;
  /** Any string; each line of it becomes its own `data:` line and the client rejoins them with LF. */
  data: string;
}

export function encodeSseEvent({ id, event, data }: SseEventFields): string {
  let out = '';
  if (id !== undefined) {
    assertSingleLine('id', id);
    // A NUL in `id` makes browsers ignore the field (spec step "If the field value does not contain NULL").
    if (id.includes('\0')) throw new Error('SSE id must not contain NUL');
    out += `id: ${id}\n`;
  }
  if (event !== undefined) {
    assertSingleLine('event', event);
    out += `event: ${event}\n`;
  }
  for (const line of data.split(LINE_BREAK)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/**
 * An `id:` field alone: clients set their last event id and dispatch nothing (the spec skips
 * events with no data). Announces a fresh stream's position, so a drop before its first event
 * still resumes from there.
 */
export function encodeSseId(id: string): string {
  assertSingleLine('id', id);
  return `id: ${id}\n\n`;
}

/** A comment line: ignored by clients, keeps intermediaries and idle timers from closing the stream. */
export function encodeSseComment(text: string): string {
  return text
    .split(LINE_BREAK)
    .map((line) => `: ${line}\n`)
    .join('')
    .concat('\n');
}

export function encodeSseRetry(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new Error('SSE retry must be a non-negative integer');
  return `retry: ${ms}\n\n`;
}

/** The comment every stream opens with; clients use its arrival to know the stream is not buffered. */
export const SSE_OPEN_COMMENT = 'relaykit stream open';
export const SSE_KEEPALIVE_COMMENT = 'keepalive';

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};
