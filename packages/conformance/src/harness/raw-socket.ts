/** Raw TCP and HTTP/1.1: what a hostile or broken client can write, and a parser for what comes back. */
import { type Socket, connect as netConnect } from 'node:net';
import { Collector, WAIT_MS } from './collector.ts';
import { baseUrl } from './target.ts';

export interface RawHttpResponse {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/**
 * Parses one HTTP/1.1 response from the bytes received so far: `undefined` until it is complete
 * (a Content-Length body, a chunked body up to its last chunk, or a body that ends with the
 * connection when `closed`).
 */
export function parseHttpResponse(data: Buffer, closed: boolean): RawHttpResponse | undefined {
  const at = data.indexOf('\r\n\r\n');
  if (at < 0) return undefined;
  const lines = data.subarray(0, at).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!status) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0])}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const rest = data.subarray(at + 4);
  const code = Number(status[1]);
  if (code === 101 || code === 204 || code === 304) return { status: code, headers, body: Buffer.alloc(0) };
  const length = headers.get('content-length');
  if (length !== undefined) {
    if (rest.length < Number(length)) return closed ? { status: code, headers, body: rest } : undefined;
    return { status: code, headers, body: rest.subarray(0, Number(length)) };
  }
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
    const decoder = new ChunkedDecoder();
    const body = Buffer.concat(decoder.push(rest));
    return decoder.done || closed ? { status: code, headers, body } : undefined;
  }
  return closed ? { status: code, headers, body: rest } : undefined;
}

/** Decodes an HTTP/1.1 chunked body as it arrives. */
export class ChunkedDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private left = 0;
  private state: 'size' | 'data' | 'crlf' | 'done' = 'size';

  get done(): boolean {
    return this.state === 'done';
  }

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      if (this.state === 'size') {
        const eol = this.pending.indexOf('\r\n');
        if (eol < 0) break;
        const size = Number.parseInt(this.pending.subarray(0, eol).toString('latin1').split(';')[0]!, 16);
        if (!Number.isFinite(size)) throw new Error('bad chunk size line');
        this.pending = this.pending.subarray(eol + 2);
        if (size === 0) {
          this.state = 'done';
          break;
        }
        this.left = size;
        this.state = 'data';
      } else if (this.state === 'data') {
        if (this.pending.length === 0) break;
        const take = Math.min(this.left, this.pending.length);
        out.push(this.pending.subarray(0, take));
        this.pending = this.pending.subarray(take);
        this.left -= take;
        if (this.left === 0) this.state = 'crlf';
      } else if (this.state === 'crlf') {
        if (this.pending.length < 2) break;
        this.pending = this.pending.subarray(2);
        this.state = 'size';
      } else break;
    }
    return out;
  }
}

/** A raw TCP connection to the server: what a hostile or broken client can write, byte by byte. */
export class RawSocket {
  data: Buffer = Buffer.alloc(0);
  isClosed = false;
  readonly closed: Promise<void>;
  private readonly changed = new Collector<number>();

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.data = Buffer.concat([this.data, chunk]);
      this.changed.notify();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        this.changed.notify();
        resolve();
      });
    });
  }

  static async connect(base = baseUrl()): Promise<RawSocket> {
    const { hostname, port } = new URL(base);
    const socket = netConnect(Number(port), hostname);
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawSocket(socket);
  }

  /** Writes and waits until the bytes are handed to the kernel; a write after the server closed is ignored. */
  write(data: string | Buffer): Promise<void> {
    if (this.isClosed || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(data, () => resolve()));
  }

  /** Waits until the bytes received (or the connection closing) satisfy `condition`. */
  async until(condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    await this.changed.until(condition, what, timeoutMs);
  }

  /** Waits for one complete HTTP response, or for the connection to close without one (`undefined`). */
  async response(timeoutMs = WAIT_MS): Promise<RawHttpResponse | undefined> {
    await this.until(() => this.isClosed || parseHttpResponse(this.data, false) !== undefined, 'an HTTP response or the close', timeoutMs);
    return parseHttpResponse(this.data, this.isClosed);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A raw HTTP/1.1 request head (lines joined with CRLF, ended by an empty line). */
export function requestHead(method: string, path: string, headers: Record<string, string | number> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}
