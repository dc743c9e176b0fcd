/** RFC 6455 by hand on a raw socket: frames no client library would send. */
import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { Collector, WAIT_MS } from './collector.ts';
import { RawSocket, requestHead } from './raw-socket.ts';
import { baseUrl } from './target.ts';

/** One RFC 6455 frame as a client may (or may not) send it: masked unless `mask: false`. */
export function encodeWsFrame(options: {
  opcode?: number;
  payload?: Buffer;
  fin?: boolean;
  mask?: boolean;
  /** The length the header declares, when it is to lie about the payload that follows. */
  declaredLength?: number;
}): Buffer {
  const { opcode = 0x1, payload = Buffer.alloc(0), fin = true, mask = true } = options;
  const length = options.declaredLength ?? payload.length;
  const maskBit = mask ? 0x80 : 0;
  let head: Buffer;
  if (length < 126) head = Buffer.from([(fin ? 0x80 : 0) | opcode, maskBit | length]);
  else if (length < 65_536) {
    head = Buffer.alloc(4);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = maskBit | 126;
    head.writeUInt16BE(length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = maskBit | 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  if (!mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([head, key, masked]);
}

export interface RawWsFrame {
  opcode: number;
  payload: Buffer;
}

/**
 * A WebSocket client written on node:net: it performs the handshake, then reads the server's
 * frames and answers pings, and can send any bytes at all, including frames a real client library
 * refuses to produce (unmasked, lying about their length, invalid UTF-8).
 */
export class RawWebSocket {
  readonly frames = new Collector<RawWsFrame>();
  /** The code of the close frame the server sent, once it did (1005 for a close frame without one). */
  closeCode: number | undefined;
  /** The reason in the server's close frame ('' when it gave none). */
  closeReason: string | undefined;
  private offset = 0;

  private constructor(
    readonly raw: RawSocket,
    bodyStart: number,
  ) {
    this.offset = bodyStart;
    raw.socket.on('data', () => this.parse());
    void raw.closed.then(() => this.frames.notify());
    this.parse();
  }

  static async connect(base = baseUrl()): Promise<RawWebSocket> {
    const raw = await RawSocket.connect(base);
    const key = randomBytes(16).toString('base64');
    await raw.write(
      requestHead('GET', '/v1/ws', {
        Upgrade: 'websocket',
        Connection: 'Upgrade',
        'Sec-WebSocket-Key': key,
        'Sec-WebSocket-Version': 13,
      }),
    );
    await raw.until(() => raw.isClosed || raw.data.includes('\r\n\r\n'), 'the handshake answer');
    const at = raw.data.indexOf('\r\n\r\n');
    const head = raw.data.subarray(0, Math.max(at, 0)).toString('latin1');
    expect(head, 'the server accepts the handshake').toMatch(/^HTTP\/1\.1 101/);
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    expect(head.toLowerCase()).toContain(`sec-websocket-accept: ${accept.toLowerCase()}`);
    const ws = new RawWebSocket(raw, at + 4);
    const welcome = await ws.frames.find((f) => f.opcode === 0x1, 'the welcome frame');
    expect(JSON.parse(welcome.payload.toString('utf8'))).toMatchObject({ type: 'welcome' });
    return ws;
  }

  private parse(): void {
    const data = this.raw.data;
    for (;;) {
      if (data.length - this.offset < 2) return;
      const b0 = data[this.offset]!;
      const b1 = data[this.offset + 1]!;
      let length = b1 & 0x7f;
      let at = this.offset + 2;
      if (length === 126) {
        if (data.length - at < 2) return;
        length = data.readUInt16BE(at);
        at += 2;
      } else if (length === 127) {
        if (data.length - at < 8) return;
        length = Number(data.readBigUInt64BE(at));
        at += 8;
      }
      if (b1 & 0x80) at += 4; // a server never masks; tolerate it anyway
      if (data.length - at < length) return;
      const frame = { opcode: b0 & 0x0f, payload: data.subarray(at, at + length) };
      this.offset = at + length;
      if (frame.opcode === 0x8 && this.closeCode === undefined) {
        this.closeCode = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
        this.closeReason = frame.payload.subarray(2).toString('utf8');
        // Echo the close, as RFC 6455 asks: the server may wait for it before closing the TCP connection.
        void this.raw.write(encodeWsFrame({ opcode: 0x8, payload: frame.payload.subarray(0, 2) }));
      }
      if (frame.opcode === 0x9) void this.raw.write(encodeWsFrame({ opcode: 0xa, payload: frame.payload }));
      this.frames.push(frame);
    }
  }

  /** Text frames received, parsed as JSON. */
  texts(): unknown[] {
    return this.frames.items.filter((f) => f.opcode === 0x1).map((f) => JSON.parse(f.payload.toString('utf8')));
  }

  send(frame: Parameters<typeof encodeWsFrame>[0]): Promise<void> {
    return this.raw.write(encodeWsFrame(frame));
  }

  /** Waits for the server's close frame or for the connection to drop; returns the close code (undefined: none). */
  async closedBy(timeoutMs = WAIT_MS): Promise<number | undefined> {
    await this.frames.until(() => this.closeCode !== undefined || this.raw.isClosed, 'a close frame or the connection to close', timeoutMs);
    return this.closeCode;
  }

  destroy(): void {
    this.raw.destroy();
  }
}
