import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type Relay, type WsPeer, errorResponse } from '@relaykit/core';
import { type WebSocket, WebSocketServer } from 'ws';
import { handshakeOf } from './web.ts';

/** `ws`'s socket as a relaykit peer; send results follow Bun's convention (-1 = backpressure). */
class NodePeer implements WsPeer {
  readonly ws: WebSocket;
  constructor(ws: WebSocket) {
    this.ws = ws;
  }
  send(text: string): number {
    if (this.ws.readyState !== 1) return 0;
    this.ws.send(text);
    return this.ws.bufferedAmount > 0 ? -1 : text.length;
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

/** Handles `upgrade` for `/v1/ws`: admit (auth, limits), then hand the socket to a session. */
export function createWsUpgrade(relay: Relay) {
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    // ws closes with 1009 past this, before the frame is buffered whole.
    maxPayload: relay.config.maxMessageBytes,
  });

  return async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    socket.on('error', () => socket.destroy());
    // ws would refuse a malformed handshake with an HTML page; answer it as every endpoint does.
    const problem = handshakeProblem(req);
    if (problem) return rejectUpgrade(socket, errorResponse('bad_request', problem));
    const principal = await relay.admit(handshakeOf(req, url), 'ws');
    if (principal instanceof Response) return rejectUpgrade(socket, principal);
    wss.handleUpgrade(req, socket, head, (ws) => {
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
  };
}

/** The checks ws makes before upgrading (RFC 6455 section 4.2.1), as a message, or undefined. */
function handshakeProblem(req: IncomingMessage): string | undefined {
  if (req.method !== 'GET') return 'a WebSocket handshake must be a GET request';
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return 'Upgrade header must be "websocket"';
  if (!/^[+/0-9A-Za-z]{22}==$/.test(req.headers['sec-websocket-key'] ?? '')) return 'missing or invalid Sec-WebSocket-Key';
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return 'Sec-WebSocket-Version must be 13';
  return undefined;
}

/** Answers a refused upgrade with the same JSON error body as every other endpoint. */
export async function rejectUpgrade(socket: Duplex, response: Response): Promise<void> {
  const body = await response.text();
  const head = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? 'Error'}`];
  response.headers.forEach((value, name) => head.push(`${name}: ${value}`));
  head.push(`content-length: ${Buffer.byteLength(body)}`, 'connection: close');
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}
