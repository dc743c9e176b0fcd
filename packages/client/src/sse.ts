import type { PresenceChange, ResetCode, SseEndCode } from '@relaykit/contracts';
import { createParser } from 'eventsource-parser';
import { RelayKitError, errorFromResponse } from './errors.js';
import { type Transport, type TransportContext, authHeaders, isEnvelope } from './transport.js';

/** The comments a relaykit stream sends (mirrors SSE_OPEN_COMMENT / SSE_KEEPALIVE_COMMENT in the contracts). */
export const OPEN_COMMENT = 'relaykit stream open';
export const KEEPALIVE_COMMENT = 'keepalive';

export function sseUrl(ctx: Pick<TransportContext, 'baseUrl' | 'topics' | 'resume' | 'presence'>, token?: string): string {
  const params = new URLSearchParams();
  for (const topic of ctx.topics) params.append('topic', topic);
  if (ctx.resume.lastId !== undefined) params.set('lastEventId', ctx.resume.lastId);
  if (ctx.presence) params.set('presence', '1');
  if (token) params.set('token', token);
  return `${ctx.baseUrl}/v1/events?${params}`;
}

/**
 * The `event: error` a server sends before it ends a stream (PROTOCOL.md 3), as the reason the
 * transport closed. Read without zod (the client bundles no schema library): the code is taken as
 * the server's SseEndCode when it is a string.
 */
function endOf(data: string): RelayKitError {
  let code: unknown;
  try {
    code = (JSON.parse(data) as { code?: unknown } | null)?.code;
  } catch {
    // not JSON: still the end of the stream
  }
  return typeof code === 'string'
    ? new RelayKitError(code as SseEndCode, `the server ended the stream: ${code}`)
    : new RelayKitError('bad_response', 'the server ended the stream without saying why');
}

function handleMessage(ctx: TransportContext, event: string | undefined, id: string | undefined, data: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    ctx.hooks.error(new RelayKitError('bad_response', 'SSE data is not JSON'));
    return;
  }
  if (event === 'reset') {
    const reset = parsed as { code?: ResetCode; topics?: string[] };
    ctx.hooks.reset({ code: reset.code ?? 'history_unavailable', topics: reset.topics ?? [], position: id });
    return;
  }
  if (event === 'presence') {
    ctx.hooks.presence(parsed as PresenceChange);
    return;
  }
  if (!isEnvelope(parsed)) {
    ctx.hooks.error(new RelayKitError('bad_response', 'SSE data is not an event envelope'));
    return;
  }
  ctx.hooks.event(parsed);
}

/**
 * SSE read with fetch and a streaming parser: works in browsers, Node, Bun and Deno, sends the
 * token as a header, and sees the open and keepalive comments (native EventSource hides them).
 */
export function openSse(ctx: TransportContext): Transport {
  const abort = new AbortController();
  let done = false;
  const finish = (error: RelayKitError) => {
    if (done) return;
    done = true;
    abort.abort();
    ctx.hooks.closed(error);
  };
  let opened = false;
  let lastKeepalive = 0;
  const parser = createParser({
    onComment(comment) {
      ctx.hooks.activity();
      const text = comment.trim();
      if (text === OPEN_COMMENT && !opened) {
        opened = true;
        ctx.hooks.open({});
      } else if (text === KEEPALIVE_COMMENT) {
        const now = Date.now();
        if (lastKeepalive) ctx.hooks.heartbeat(now - lastKeepalive);
        lastKeepalive = now;
      }
    },
    // A fresh stream announces its starting position as a bare id: resume from it if it drops
    // before the first event (baseline never moves an id the client already holds).
    onId(id) {
      ctx.resume.baseline(id);
    },
    onEvent(message) {
      ctx.hooks.activity();
      if (message.event === 'error') return finish(endOf(message.data));
      handleMessage(ctx, message.event, message.id, message.data);
    },
  });

  (async () => {
    let response: Response;
    try {
      response = await ctx.fetch(sseUrl(ctx), {
        headers: { accept: 'text/event-stream', ...authHeaders(ctx.token) },
        cache: 'no-store',
        signal: abort.signal,
      });
    } catch (error) {
      return finish(new RelayKitError('network', `SSE request failed: ${String((error as Error)?.message ?? error)}`));
    }
    if (!response.ok) return finish(await errorFromResponse(response));
    if (!response.headers.get('content-type')?.startsWith('text/event-stream') || !response.body) {
      return finish(new RelayKitError('bad_response', 'SSE answer is not text/event-stream'));
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        if (done) return;
        parser.feed(value);
      }
      finish(new RelayKitError('network', 'SSE stream ended'));
    } catch (error) {
      finish(new RelayKitError('network', `SSE stream failed: ${String((error as Error)?.message ?? error)}`));
    }
  })();

  return {
    kind: 'sse',
    update: () => false,
    close() {
      done = true;
      abort.abort();
    },
  };
}

/**
 * SSE with the platform's EventSource (browsers): no auth header (the token goes in the query),
 * no comments, and only the named event types (`eventTypes` option, `onEvent` handlers) arrive.
 * The client, not EventSource, reconnects, so backoff and resume stay the same.
 */
export function openEventSource(ctx: TransportContext): Transport {
  const EventSourceImpl = ctx.EventSource;
  if (!EventSourceImpl) throw new RelayKitError('network', 'EventSource is not available here');
  const source = new EventSourceImpl(sseUrl(ctx, ctx.token));
  let done = false;
  const listener = (event: Event) => {
    const message = event as MessageEvent<string>;
    ctx.hooks.activity();
    handleMessage(ctx, message.type, message.lastEventId || undefined, message.data);
  };
  source.addEventListener('open', () => ctx.hooks.open({}));
  for (const type of new Set(['reset', 'message', 'presence', ...ctx.eventTypes])) source.addEventListener(type, listener);
  source.addEventListener('error', (event) => {
    if (done) return;
    done = true;
    source.close();
    // The server's `event: error` arrives here too, as a MessageEvent carrying why it ended the stream.
    const data = (event as MessageEvent<unknown>).data;
    ctx.hooks.closed(typeof data === 'string' ? endOf(data) : new RelayKitError('network', 'EventSource failed'));
  });
  return {
    kind: 'sse',
    update: () => false,
    close() {
      done = true;
      source.close();
    },
  };
}
