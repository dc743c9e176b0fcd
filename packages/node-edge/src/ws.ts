import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, MESSAGE_TOO_BIG_REASON } from '@relaykit/contracts';
import { type Relay, RelayError, handshakeOfHeaders } from '@relaykit/core';
import type { WsPeer } from '@relaykit/core/adapter';
import { WebSocket, WebSocketServer } from 'ws';
import { requestUrl } from './request-url.js';

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
 * One event's frame text as UTF-8, kept for the next send: the hub hands the same string to every
 * subscriber in turn, so it is encoded once per event, not once per socket (ws frames a Buffer
 * without copying it).
 */
let lastText = '';
let lastBytes = Buffer.alloc(0);
function utf8Of(text: string): Buffer {
  if (text !== lastText) {
    lastBytes = Buffer.from(text);
    lastText = text;
  }
  return lastBytes;
}
const TEXT = { binary: false } as const;

/** `ws`'s socket as a relaykit peer; send results follow Bun's convention (-1 = backpressure). */
export class NodePeer implements WsPeer {
  readonly ws: WebSocket;
  constructor(ws: WebSocket) {
    this.ws = ws;
  }
  send(text: string): number {
    if (this.ws.readyState !== 1) return 0;
    const bytes = utf8Of(text);
    this.ws.send(bytes, TEXT);
    return this.ws.bufferedAmount > 0 ? -1 : bytes.byteLength;
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
  terminate(): void {
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
    const session = relay.openWs(new NodePeer(ws), principal);
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
