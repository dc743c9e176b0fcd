import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, MESSAGE_TOO_BIG_REASON } from '@relaykit/contracts';
import { type Relay, RelayError, handshakeOfHeaders } from '@relaykit/core';
import type { WsPeer } from '@relaykit/core/adapter';
import { WebSocket, WebSocketServer } from 'ws';
import { requestUrl } from './request-url.js';
import { TurnCorked } from '@relaykit/core/adapter';

/**
 * ws closes a frame over maxPayload with 1009 and no reason (its receiver calls `close(1009)`);
 * Bun's uWS says MESSAGE_TOO_BIG_REASON. The server's sockets are this class, so every runtime
 * sends the same close frame.
 */
class RelayWebSocket extends WebSocket {
  override close(code?: number, reason?: string | Buffer): void {
    super.close(code, code === CloseCode.messageTooBig && !reason ? MESSAGE_TOO_BIG_REASON : reason);
  }
}

/**
 * One event's WebSocket frame, kept for the next send: the hub hands the same string to every
 * subscriber in turn, and a server frame is unmasked (RFC 6455 section 5.1), so the header and
 * the UTF-8 payload are the same bytes for every socket: framed once per event, not per socket.
 */
let lastText: string | undefined;
let lastFrame = Buffer.alloc(0);
function frameOf(text: string): Buffer {
  if (text === lastText) return lastFrame;
  const length = Buffer.byteLength(text);
  const offset = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(offset + length);
  frame[0] = 0x81; // FIN + text opcode
  if (offset === 2) frame[1] = length;
  else if (offset === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(length, 6);
  }
  frame.write(text, offset);
  lastText = text;
  lastFrame = frame;
  return frame;
}

/**
 * `ws`'s socket as a relaykit peer; send results follow Bun's convention (-1 = backpressure).
 * Frames go straight to the TCP socket, corked for the turn (turn-cork.ts), not through
 * `ws.send`, which frames and writes every message per socket at once. That is safe because ws
 * writes a frame synchronously and keeps no queue of its own unless it compresses (off here:
 * perMessageDeflate false) or reads a Blob (never sent here); its close and ping frames go to
 * the same socket, so their order with events stays as sent.
 */
export class NodePeer extends TurnCorked implements WsPeer {
  readonly ws: WebSocket;
  private readonly socket: Duplex;
  constructor(ws: WebSocket, socket: Duplex) {
    super();
    this.ws = ws;
    this.socket = socket;
  }
  send(text: string): number {
    if (this.ws.readyState !== 1) return 0;
    const backpressure = this.holdForTurn();
    const frame = frameOf(text);
    this.socket.write(frame);
    // On backpressure the session compares everything held (bufferedAmount) with MAX_BUFFERED_BYTES.
    return backpressure ? -1 : frame.byteLength;
  }
  protected unsentBytes(): number {
    return this.socket.writableLength;
  }
  protected cork(): void {
    this.socket.cork();
  }
  protected uncork(): void {
    this.socket.uncork();
  }
  // Both uncork first, so that what was sent before a close or a terminate reaches the kernel
  // before the socket ends or is destroyed.
  close(code: number, reason: string): void {
    this.endTurn();
    this.ws.close(code, reason);
  }
  terminate(): void {
    this.endTurn();
    this.ws.terminate();
  }
  ping(): void {
    if (this.ws.readyState === 1) this.ws.ping();
  }
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
}

export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return req.headers.upgrade?.toLowerCase() === 'websocket';
}

const servers = new WeakMap<Relay, WebSocketServer>();
function wsServerOf(relay: Relay): WebSocketServer {
  let wss = servers.get(relay);
  if (!wss) {
    wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      WebSocket: RelayWebSocket,
      // ws closes with 1009 by a frame's declared length, before buffering it.
      maxPayload: relay.config.maxMessageBytes,
    });
    servers.set(relay, wss);
  }
  return wss;
}

/** The `upgrade` event: route, admit (auth, limits), then hand the socket to a session. */
export async function serveWs(relay: Relay, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  socket.on('error', () => socket.destroy());
  const url = requestUrl(req);
  let principal;
  try {
    relay.route(req.method ?? 'GET', url.pathname, req.headers.upgrade ?? null);
    // ws would refuse a malformed handshake with an HTML page; answer it as every endpoint does.
    const problem = handshakeProblem(req);
    if (problem) throw new RelayError('bad_request', problem);
    principal = await relay.acceptWs(handshakeOfHeaders(url, req.headers, req.socket.remoteAddress));
  } catch (error) {
    return rejectUpgrade(socket, relay.refusal(error));
  }
  wsServerOf(relay).handleUpgrade(req, socket, head, (ws) => {
    const session = relay.openWs(new NodePeer(ws, socket), principal);
    ws.on('message', (data, isBinary) => {
      if (isBinary) session.onBinary();
      else session.onText(data.toString());
    });
    ws.on('pong', () => session.onPong());
    ws.on('close', () => session.onClose());
    ws.on('error', () => session.onClose());
    session.open();
  });
}

/** The checks ws makes before upgrading (RFC 6455 section 4.2.1), as a message, or undefined. */
function handshakeProblem(req: IncomingMessage): string | undefined {
  if (!/^[+/0-9A-Za-z]{22}==$/.test(req.headers['sec-websocket-key'] ?? '')) return 'missing or invalid Sec-WebSocket-Key';
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return 'Sec-WebSocket-Version must be 13';
  return undefined;
}

/** Answers a refused upgrade with the same JSON error body as every other endpoint. */
async function rejectUpgrade(socket: Duplex, response: Response): Promise<void> {
  const body = await response.text();
  const head = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? 'Error'}`];
  response.headers.forEach((value, name) => head.push(`${name}: ${value}`));
  head.push(`content-length: ${Buffer.byteLength(body)}`, 'connection: close');
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}
