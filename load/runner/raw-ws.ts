/**
 * A minimal RFC 6455 client over node:net for the attacks suite: it can send frames a normal
 * client library would refuse to (a header declaring 60 MB followed by a slow payload), stop
 * reading (pause the socket) to play a client that never reads, and report the close code the
 * server sent. Client frames are masked, as a client must.
 */
import { randomBytes } from 'node:crypto';
import { type Socket, connect } from 'node:net';

export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

export interface RawWsClosed {
  /** Close code of the server's close frame, if one arrived (1005 when it had no code). */
  code?: number;
  reason?: string;
  /** The socket ended with a socket error (ECONNRESET, EPIPE...). */
  error?: string;
}

/** One masked client frame: FIN set, `opcode` (1 text, 2 binary, 8 close...). */
export function clientFrame(opcode: number, payload: Buffer, declaredLength = payload.length): Buffer {
  const key = randomBytes(4);
  const header = headerFor(opcode, declaredLength, key);
  const masked = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([header, masked]);
}

/** A frame header (with its 4-byte mask key) that declares `length` payload bytes. */
export function headerFor(opcode: number, length: number, key: Buffer): Buffer {
  let h: Buffer;
  if (length < 126) {
    h = Buffer.alloc(2);
    h[1] = 0x80 | length;
  } else if (length < 65536) {
    h = Buffer.alloc(4);
    h[1] = 0x80 | 126;
    h.writeUInt16BE(length, 2);
  } else {
    h = Buffer.alloc(10);
    h[1] = 0x80 | 127;
    h.writeBigUInt64BE(BigInt(length), 2);
  }
  h[0] = 0x80 | opcode;
  return Buffer.concat([h, key]);
}

/** `bytes` of payload masked with `key`, the mask phase starting at payload offset 0 (bytes % 4 == 0 keeps it aligned for the next chunk). */
export function maskedFiller(bytes: number, key: Buffer, fill = 0x61): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) b[i] = fill ^ key[i & 3]!;
  return b;
}

export class RawWs {
  readonly socket: Socket;
  /** Resolves once the 101 arrived (rejects on any other answer or a socket error). */
  readonly open: Promise<void>;
  /** Resolves when the socket is closed, with the server's close code when it sent one. */
  readonly closed: Promise<RawWsClosed>;
  upgradeStatus = 0;
  bytesIn = 0;
  textFrames = 0;
  isClosed = false;
  closeInfo: RawWsClosed = {};
  private buf: Buffer = Buffer.alloc(0);
  private upgraded = false;
  private inbox: ServerFrame[] = [];
  private waiters: Array<{ match: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }> = [];
  /** Called for every complete server frame. */
  onFrame?: (f: ServerFrame) => void;

  constructor(port: number, path = '/v1/ws', host = '127.0.0.1') {
    this.socket = connect({ port, host, noDelay: true });
    this.socket.on('data', (d: Buffer) => this.onData(d));
    let openResolve!: () => void;
    let openReject!: (e: Error) => void;
    this.open = new Promise<void>((res, rej) => {
      openResolve = res;
      openReject = rej;
    });
    this.open.catch(() => {});
    this.closed = new Promise<RawWsClosed>((res) => {
      this.socket.on('error', (e) => {
        this.closeInfo.error ??= (e as NodeJS.ErrnoException).code ?? e.message;
        openReject(e);
      });
      this.socket.on('close', () => {
        this.isClosed = true;
        openReject(new Error(`closed before the upgrade (status ${this.upgradeStatus})`));
        res(this.closeInfo);
      });
    });
    this.resolveOpen = openResolve;
    this.rejectOpen = openReject;
    this.socket.on('connect', () => {
      const key = randomBytes(16).toString('base64');
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
  }
  private resolveOpen: () => void;
  private rejectOpen: (e: Error) => void;

  private onData(d: Buffer): void {
    this.bytesIn += d.length;
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    if (!this.upgraded) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString('latin1');
      this.upgradeStatus = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0);
      this.buf = this.buf.subarray(end + 4);
      if (this.upgradeStatus !== 101) {
        this.rejectOpen(new Error(`upgrade answered ${this.upgradeStatus}`));
        this.socket.destroy();
        return;
      }
      this.upgraded = true;
      this.resolveOpen();
    }
    this.parse();
  }

  private parse(): void {
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0]!;
      const b1 = this.buf[1]!;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (b1 & 0x80) off += 4; // a server must not mask, but skip a key if it does
      if (this.buf.length < off + len) return;
      const frame: ServerFrame = { opcode: b0 & 0x0f, payload: this.buf.subarray(off, off + len) };
      this.buf = this.buf.subarray(off + len);
      if (frame.opcode === 1) this.textFrames++;
      if (frame.opcode === 8) {
        this.closeInfo.code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
        this.closeInfo.reason = frame.payload.subarray(2).toString('utf8');
      }
      this.onFrame?.(frame);
      const w = this.waiters.findIndex((x) => x.match(frame));
      if (w >= 0) this.waiters.splice(w, 1)[0]!.resolve(frame);
      else {
        // Kept for a later next() (e.g. the welcome that came with the 101); the newest 64 only.
        this.inbox.push(frame);
        if (this.inbox.length > 64) this.inbox.shift();
      }
    }
  }

  /** The next server frame matching `match` (text frames by default), or undefined after `timeoutMs`. */
  next(match: (f: ServerFrame) => boolean = (f) => f.opcode === 1, timeoutMs = 5000): Promise<ServerFrame | undefined> {
    const i = this.inbox.findIndex(match);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        resolve(undefined);
      }, timeoutMs);
      const done = (f: ServerFrame) => {
        clearTimeout(timer);
        resolve(f);
      };
      this.waiters.push({ match, resolve: done });
      void this.closed.then(() => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  }

  sendText(text: string): boolean {
    if (this.isClosed) return false;
    return this.socket.write(clientFrame(1, Buffer.from(text, 'utf8')));
  }

  /** Writes raw bytes; resolves false when the socket is (or becomes) closed instead of draining. */
  async write(bytes: Buffer): Promise<boolean> {
    if (this.isClosed || this.socket.destroyed) return false;
    if (this.socket.write(bytes)) return true;
    return new Promise<boolean>((resolve) => {
      const onDrain = () => {
        this.socket.off('close', onClose);
        resolve(true);
      };
      const onClose = () => {
        this.socket.off('drain', onDrain);
        resolve(false);
      };
      this.socket.once('drain', onDrain);
      this.socket.once('close', onClose);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}
