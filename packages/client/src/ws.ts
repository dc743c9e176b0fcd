import type { ServerFrame } from '@relaykit/contracts';
import { RelayKitError } from './errors.js';
import type { Transport, TransportContext } from './transport.js';

/** Close code 4029: the server closed the connection for exceeding its rate limits (contracts' CloseCode.rateLimited; a number here, so no contracts code is bundled). */
export const RATE_LIMITED_CLOSE = 4029;

export function wsUrl(baseUrl: string, token: string | undefined): string {
  const url = new URL(`${baseUrl}/v1/ws`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (token) url.searchParams.set('token', token);
  return url.toString();
}

/** The ref of the subscribe sent on the welcome, whose answer opens the transport. */
const OPEN_REF = 'open';

/**
 * WebSocket: subscribe on welcome (resuming from the last id), app-level pings every heartbeat
 * (a browser never sees protocol pings), publish frames answered by ack/error.
 */
export function openWs(ctx: TransportContext): Transport {
  const WebSocketImpl = ctx.WebSocket;
  if (!WebSocketImpl) throw new RelayKitError('network', 'WebSocket is not available here');
  const socket = new WebSocketImpl(wsUrl(ctx.baseUrl, ctx.token));
  let done = false;
  let welcomed = false;
  /** What the welcome said, until the first subscribe is answered: then the transport is open. */
  let opening: { heartbeatMs: number; server: string } | undefined;
  // Open only once subscribed: a client that publishes or reads presence on open finds itself
  // subscribed (a read sent on the welcome could be answered before this socket's own join).
  const open = () => {
    if (!opening) return;
    ctx.hooks.open(opening);
    opening = undefined;
  };
  let pinger: ReturnType<typeof setInterval> | undefined;
  /** The refresh awaiting its `refreshed` (or `error`), by its ref. */
  let refreshing: { ref: string; resolve(expiresAt: number | undefined): void; reject(error: RelayKitError): void } | undefined;
  let refreshes = 0;
  const send = (frame: object) => {
    if (socket.readyState === 1) socket.send(JSON.stringify(frame));
  };
  const finish = (error: RelayKitError) => {
    if (done) return;
    done = true;
    clearInterval(pinger);
    refreshing?.reject(error);
    try {
      socket.close();
    } catch {
      // already closing
    }
    ctx.hooks.closed(error);
  };

  socket.onmessage = (message: MessageEvent) => {
    if (done) return;
    ctx.hooks.activity();
    let frame: ServerFrame;
    try {
      frame = JSON.parse(String(message.data)) as ServerFrame;
    } catch {
      ctx.hooks.error(new RelayKitError('bad_response', 'WebSocket frame is not JSON'));
      return;
    }
    switch (frame.type) {
      case 'welcome': {
        welcomed = true;
        // Nothing received yet: the welcome's position is where a reconnect should resume from.
        ctx.resume.baseline(frame.position);
        ctx.hooks.heartbeat(frame.heartbeatMs);
        pinger = setInterval(() => send({ type: 'ping' }), frame.heartbeatMs);
        opening = { heartbeatMs: frame.heartbeatMs, server: frame.server };
        if (ctx.topics.length === 0) return open();
        const lastEventId = ctx.resume.lastId;
        send({ type: 'subscribe', topics: ctx.topics, ref: OPEN_REF, ...(lastEventId === undefined ? {} : { lastEventId }), ...(ctx.presence ? { presence: true } : {}) });
        return;
      }
      case 'subscribed':
        if (frame.ref === OPEN_REF) open();
        return;
      case 'event':
        ctx.hooks.event(frame.event);
        return;
      case 'presence':
        ctx.hooks.presence({ topic: frame.topic, action: frame.action, member: frame.member });
        return;
      case 'reset':
        ctx.hooks.reset({ code: frame.code, topics: frame.topics, position: frame.position });
        return;
      case 'ack':
        if (typeof frame.ref === 'number') ctx.hooks.ack(frame.ref, frame.id);
        return;
      case 'error': {
        const error = new RelayKitError(frame.code, frame.message);
        if (frame.ref === OPEN_REF) {
          // The first subscribe refused (a topic the token may not read): open all the same, and say why.
          open();
          return ctx.hooks.error(error);
        }
        if (typeof frame.ref === 'number') ctx.hooks.nack(frame.ref, error);
        else if (refreshing && frame.ref === refreshing.ref) refreshing.reject(error);
        else ctx.hooks.error(error);
        return;
      }
      case 'refreshed':
        if (refreshing && frame.ref === refreshing.ref) refreshing.resolve(frame.expiresAt);
        return;
      case 'unsubscribed':
        // Carrying a refresh's ref: topics the new token no longer grants.
        if (refreshing && frame.ref === refreshing.ref) ctx.hooks.revoked(frame.topics);
        return;
      default:
        return; // pong: activity only
    }
  };
  socket.onclose = (event: CloseEvent) => {
    if (event.code === 4001) return finish(new RelayKitError('token_expired', 'WebSocket closed at the token’s exp (4001)'));
    if (event.code === RATE_LIMITED_CLOSE) {
      finish(new RelayKitError('rate_limited', `WebSocket closed (${event.code} ${event.reason}): too many frames over the rate limit`));
      return;
    }
    finish(
      new RelayKitError(
        'network',
        welcomed ? `WebSocket closed (${event.code}${event.reason ? ` ${event.reason}` : ''})` : `WebSocket failed before welcome (${event.code}): upgrade refused or blocked?`,
      ),
    );
  };
  socket.onerror = () => {
    // a close event follows
  };

  return {
    kind: 'ws',
    update(added, removed) {
      if (!welcomed) return true; // the welcome handler subscribes to ctx.topics
      if (added.length > 0) send({ type: 'subscribe', topics: added, ...(ctx.presence ? { presence: true } : {}) });
      if (removed.length > 0) send({ type: 'unsubscribe', topics: removed });
      return true;
    },
    publish(topic, type, data, key, ref) {
      if (!welcomed || socket.readyState !== 1) return false;
      send({ type: 'publish', topic, event: { type, data }, key, ref });
      return true;
    },
    refresh(token) {
      refreshing?.reject(new RelayKitError('network', 'replaced by a newer refresh'));
      const ref = `refresh-${++refreshes}`;
      return new Promise<number | undefined>((resolve, reject) => {
        const settle = () => (refreshing = undefined);
        refreshing = { ref, resolve: (at) => (settle(), resolve(at)), reject: (error) => (settle(), reject(error)) };
        if (!welcomed || socket.readyState !== 1) return refreshing.reject(new RelayKitError('network', 'WebSocket not open'));
        send({ type: 'refresh', token, ref });
      });
    },
    close() {
      done = true;
      clearInterval(pinger);
      refreshing?.reject(new RelayKitError('closed', 'connection replaced'));
      socket.onclose = null;
      socket.onmessage = null;
      try {
        socket.close(1000);
      } catch {
        // ignore
      }
    },
  };
}
