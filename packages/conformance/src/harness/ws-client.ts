import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { type Envelope, ServerFrame, type WelcomeFrame } from '@relaykit/contracts';
import { expect } from 'vitest';
import WebSocket from 'ws';
import { Collector } from './collector.ts';
import { baseUrl, wsUrl } from './target.ts';

export type Frame = ServerFrame;
type FrameOf<T extends Frame['type']> = Extract<Frame, { type: T }>;

export interface Closed {
  code: number;
  reason: string;
}

/** A `ws` client that validates every frame against ServerFrame and records it. */
export class WsClient {
  readonly frames = new Collector<Frame>();
  readonly invalid: unknown[] = [];
  readonly closed: Promise<Closed>;
  welcome!: WelcomeFrame;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.invalid.push({ binary: true });
        return;
      }
      const text = data.toString();
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        this.invalid.push(text);
        return;
      }
      // Keep the frame as received: zod's copy would drop "__proto__" keys inside event data.
      if (ServerFrame.safeParse(raw).success) this.frames.push(raw as ServerFrame);
      else this.invalid.push(raw);
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.frames.notify();
      });
    });
    ws.on('error', () => {});
  }

  static async connect(base = baseUrl(), options: WebSocket.ClientOptions = {}): Promise<WsClient> {
    const ws = new WebSocket(wsUrl(base), { perMessageDeflate: false, ...options });
    const client = new WsClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)));
    });
    const first = await client.frames.find(() => true, 'the welcome frame');
    expect(first.type, 'the first frame is welcome').toBe('welcome');
    client.welcome = first as WelcomeFrame;
    return client;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  /** Frames of a type, in arrival order. */
  all<T extends Frame['type']>(type: T): FrameOf<T>[] {
    return this.frames.items.filter((f): f is FrameOf<T> => f.type === type);
  }

  events(topic?: string): Envelope[] {
    return this.all('event')
      .map((f) => f.event)
      .filter((e) => topic === undefined || e.topic === topic);
  }

  async next<T extends Frame['type']>(type: T, match: (f: FrameOf<T>) => boolean = () => true, what?: string): Promise<FrameOf<T>> {
    return (await this.frames.find(
      (f): f is FrameOf<T> => f.type === type && match(f as FrameOf<T>),
      what ?? `a ${type} frame`,
    )) as FrameOf<T>;
  }

  async waitEvents(count: number, topic?: string, what?: string): Promise<Envelope[]> {
    await this.frames.until(() => this.events(topic).length >= count, what ?? `${count} event(s)${topic ? ` on ${topic}` : ''}`);
    return this.events(topic);
  }

  async subscribe(topics: string[], extra: Record<string, unknown> = {}): Promise<FrameOf<'subscribed'>> {
    const ref = `sub-${randomBytes(3).toString('hex')}`;
    this.send({ type: 'subscribe', topics, ref, ...extra });
    return this.next('subscribed', (f) => f.ref === ref, `subscribed for ${ref}`);
  }

  async publish(topic: string, type: string, data: unknown, key?: string): Promise<FrameOf<'ack'>> {
    const ref = `pub-${randomBytes(4).toString('hex')}`;
    this.send({ type: 'publish', topic, event: { type, data }, ref, ...(key ? { key } : {}) });
    const answer = await this.frames.find(
      (f) => (f.type === 'ack' || f.type === 'error') && f.ref === ref,
      `ack for ${ref}`,
    );
    if (answer.type !== 'ack') throw new Error(`publish refused: ${JSON.stringify(answer)}`);
    return answer;
  }

  async ping(): Promise<void> {
    const ref = `ping-${randomBytes(3).toString('hex')}`;
    this.send({ type: 'ping', ref });
    await this.next('pong', (f) => f.ref === ref, 'pong');
  }

  /** Closes the connection, then checks that every frame received validated against ServerFrame. */
  async close(): Promise<Closed> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    const closed = await this.closed;
    this.expectAllValid();
    return closed;
  }

  expectAllValid(): void {
    expect(this.invalid, 'every frame the server sent validates against ServerFrame').toEqual([]);
  }
}

/** The socket under a `ws` client, to stop reading from it as a slow client would. */
export function socketOf(client: WsClient): Socket {
  return (client.ws as unknown as { _socket: Socket })._socket;
}

/** Status and body of a refused WebSocket upgrade (or 101 when accepted). */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.terminate();
      resolve({ status: 101, body: '' });
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', () => {});
  });
}
