import { type Principal, type Relay, RelayError, handshakeOf } from '@relaykit/core';
import type { WsPeer, WsSession } from '@relaykit/core/adapter';
import type { Server, ServerWebSocket, WebSocketHandler } from 'bun';

export interface WsData {
  principal: Principal;
  session: WsSession<BunPeer> | undefined;
}

/** Bun's ServerWebSocket as a relaykit peer: send() already returns Bun's result (-1, 0, bytes). */
export class BunPeer implements WsPeer {
  readonly ws: ServerWebSocket<WsData>;
  constructor(ws: ServerWebSocket<WsData>) {
    this.ws = ws;
  }
  send(text: string): number {
    return this.ws.send(text);
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
  terminate(): void {
    this.ws.terminate();
  }
  ping(): void {
    this.ws.ping();
  }
  get bufferedAmount(): number {
    return this.ws.getBufferedAmount();
  }
}

/** `/v1/ws`: admit (auth, limits), then upgrade; a refused upgrade answers the JSON error. */
export async function serveWs(relay: Relay, req: Request, server: Server<WsData>, url: URL): Promise<Response | undefined> {
  const principal = await relay.acceptWs(handshakeOf(req, url, server.requestIP(req)?.address));
  if (server.upgrade(req, { data: { principal, session: undefined } })) return undefined;
  throw new RelayError('bad_request', 'invalid WebSocket upgrade request');
}

/** The websocket handlers: relaykit's heartbeat (core) is the only liveness check. */
export function wsHandler(relay: Relay): WebSocketHandler<WsData> {
  const { config } = relay;
  return {
    // Bun closes with 1009 past this, before the frame is buffered whole.
    maxPayloadLength: config.maxMessageBytes,
    // Slow consumers are closed with 4008 by WsSession.deliver and BunFanout at MAX_BUFFERED_BYTES;
    // Bun's own limit is only a backstop above that, reached if a check came too late.
    backpressureLimit: Math.min(2 ** 32 - 1, 2 * (config.maxBufferedBytes + config.maxMessageBytes)),
    closeOnBackpressureLimit: true,
    perMessageDeflate: false,
    idleTimeout: 0,
    sendPings: false,
    open(ws) {
      const session = relay.openWs(new BunPeer(ws), ws.data.principal);
      ws.data.session = session;
      session.open();
    },
    message(ws, message) {
      const session = ws.data.session;
      if (!session) return;
      if (typeof message === 'string') session.onText(message);
      else session.onBinary();
    },
    pong(ws) {
      ws.data.session?.onPong();
    },
    close(ws) {
      ws.data.session?.onClose();
    },
    error(error, ws) {
      relay.log.error('WebSocket handler failed', { error });
      ws.close(1011, 'internal error');
    },
  };
}
