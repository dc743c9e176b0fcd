import { CloseCode, HEARTBEAT_TIMEOUT_REASON } from '@relaykit/contracts';
import { type Relay, type WsPeer, errorResponse } from '@relaykit/core';
import { type TurnCounted, backlog, countSent } from './turn.ts';
import { handshakeOf } from './web.ts';

/**
 * Deno's standard WebSocket as a relaykit peer; send results follow Bun's convention (-1 = backpressure).
 * `bufferedAmount` is the backlog left from earlier turns (see turn.ts), not this turn's frames.
 */
class DenoPeer implements WsPeer, TurnCounted {
  readonly socket: WebSocket;
  sentThisTurn = 0;
  constructor(socket: WebSocket) {
    this.socket = socket;
  }
  send(text: string): number {
    if (this.socket.readyState !== WebSocket.OPEN) return 0;
    const before = this.socket.bufferedAmount;
    this.socket.send(text);
    const after = this.socket.bufferedAmount;
    countSent(this, after - before);
    return backlog(this, after) > 0 ? -1 : after - before;
  }
  close(code: number, reason: string): void {
    if (this.socket.readyState <= WebSocket.OPEN) this.socket.close(code, reason);
  }
  terminate(): void {
    // The standard WebSocket has no abort; a close handshake is the nearest thing it offers.
    this.close(1001, 'terminated');
  }
  // No ping(): on Deno liveness is upgradeWebSocket's own idleTimeout (see idleTimeoutSeconds).
  get bufferedAmount(): number {
    return backlog(this, this.socket.bufferedAmount);
  }
}

/**
 * Deno 2.9's `idleTimeout` (seconds) measures silence from the peer: every frame received (text,
 * binary, pong) restarts it. After idleTimeout/2 s of silence Deno sends a ping; if nothing arrives
 * in the next idleTimeout/2 s it sends a close frame 1001 "No response from ping frame.", fires
 * `error` then `close` (code 1001, wasClean false) and drops the connection. Our own sends do not
 * reset it. So 2 × HEARTBEAT_MS gives a ping every HEARTBEAT_MS of silence (as the Node and Bun
 * heartbeats do) and terminates a silent peer 2 × HEARTBEAT_MS after the last frame it sent.
 * Deno takes fractional seconds; 1 s is the floor we allow.
 */
export function idleTimeoutSeconds(heartbeatMs: number): number {
  return Math.max(1, (2 * heartbeatMs) / 1000);
}

/** `/v1/ws`: admit (auth, limits), then upgrade and hand the socket to a session. */
export async function serveWs(relay: Relay, req: Request, url: URL): Promise<Response> {
  const principal = await relay.admit(handshakeOf(req, url), 'ws');
  if (principal instanceof Response) return principal;
  let upgrade: Deno.WebSocketUpgrade;
  try {
    upgrade = Deno.upgradeWebSocket(req, { idleTimeout: idleTimeoutSeconds(relay.config.heartbeatMs) });
  } catch (error) {
    // A malformed handshake (no Sec-WebSocket-Key, wrong version): the same JSON error as elsewhere.
    return errorResponse('bad_request', `invalid WebSocket handshake: ${(error as Error).message}`);
  }
  const { socket, response } = upgrade;
  const session = relay.openWs(new DenoPeer(socket), principal);
  socket.onopen = () => session.open();
  socket.onmessage = (event) => {
    if (typeof event.data === 'string') session.onText(event.data);
    else session.onBinary();
  };
  socket.onclose = (event) => {
    if (!session.closed && event.code === CloseCode.heartbeatTimeout && event.reason === HEARTBEAT_TIMEOUT_REASON) relay.metrics.heartbeatTimeouts++;
    session.onClose();
  };
  // Deno fires `error` just before `close` (idle timeout, protocol errors); `close` does the work.
  socket.onerror = () => {};
  return response;
}
