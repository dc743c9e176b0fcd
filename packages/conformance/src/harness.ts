import { randomBytes } from 'node:crypto';
import {
  Envelope,
  ErrorBody,
  PollResponse,
  PublishResponse,
  ResetSignal,
  ServerFrame,
  type WelcomeFrame,
} from '@relaykit/contracts';
import { type EventSourceMessage, createParser } from 'eventsource-parser';
import { type TestContext, expect, inject } from 'vitest';
import WebSocket from 'ws';
import { type SpawnedServer, spawnServer } from './server.ts';

/**
 * Validates against a contract schema but returns the value as received: zod copies records key by
 * key, which drops "__proto__" keys, and the data must be compared exactly as the server sent it.
 */
export function validated<T>(schema: { parse(value: unknown): T }, value: unknown): T {
  schema.parse(value);
  return value as T;
}

export const baseUrl = (): string => inject('baseUrl');
export const wsUrl = (base = baseUrl()): string => `${base.replace(/^http/, 'ws')}/v1/ws`;
export const hasCmd = (): boolean => inject('cmd') !== '';

/** Generous: the machine may be loaded. Cases assert order and content, never speed. */
export const WAIT_MS = 10_000;

let topicCounter = 0;
/** A topic no other case (nor an earlier run against the same server) has used. */
export function uniqueTopic(label = 't'): string {
  return `cf.${label}.${randomBytes(4).toString('hex')}.${++topicCounter}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Skips a case that must control the server process when the suite runs against a URL. */
export function needsCmd(ctx: TestContext): void {
  if (!hasCmd()) ctx.skip('needs --cmd: this case must start and stop its own server process');
}

const spawned = new Set<SpawnedServer>();
/** A private server for one case, started from the --cmd command with PORT=0 and `env`. */
export async function ownServer(env: Record<string, string> = {}): Promise<SpawnedServer> {
  // A short grace keeps the suite quick when a case stops its server with idle keep-alive sockets.
  const server = await spawnServer(inject('cmd'), inject('cwd'), { SHUTDOWN_GRACE_MS: '1500', ...env });
  spawned.add(server);
  void server.exited.then(() => spawned.delete(server));
  return server;
}
export async function stopOwnServers(): Promise<void> {
  await Promise.all([...spawned].map((s) => s.stop()));
}

// ---- waiting ----------------------------------------------------------------------------------

/** Collects items and lets a case wait until the collection satisfies a condition. */
export class Collector<T> {
  readonly items: T[] = [];
  private waiters: Array<() => void> = [];

  push(item: T): void {
    this.items.push(item);
    this.notify();
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  async until(condition: (items: T[]) => boolean, what: string, timeoutMs = WAIT_MS): Promise<T[]> {
    const deadline = Date.now() + timeoutMs;
    while (!condition(this.items)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; have ${describe(this.items)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.items;
  }

  /** Waits for the first item matching `match` at or after index `from`. */
  async find<U extends T>(match: (item: T) => item is U, what: string, timeoutMs?: number): Promise<U>;
  async find(match: (item: T) => boolean, what: string, timeoutMs?: number): Promise<T>;
  async find(match: (item: T) => boolean, what: string, timeoutMs = WAIT_MS): Promise<T> {
    await this.until((items) => items.some(match), what, timeoutMs);
    return this.items.find(match)!;
  }
}

function describe(items: unknown[]): string {
  const text = JSON.stringify(items.slice(-8));
  return `${items.length} item(s)${items.length > 8 ? ', last 8' : ''}: ${text.length > 1500 ? `${text.slice(0, 1500)}...` : text}`;
}

// ---- WebSocket --------------------------------------------------------------------------------

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

// ---- SSE (raw stream, parsed with eventsource-parser) -----------------------------------------

export type SseItem =
  | { kind: 'event'; id: string | undefined; event: string | undefined; data: string }
  | { kind: 'comment'; text: string }
  | { kind: 'retry'; ms: number };

/** One SSE response read with fetch, its bytes kept and parsed with eventsource-parser. */
export class SseStream {
  readonly items = new Collector<SseItem>();
  raw = '';
  ended = false;
  readonly done: Promise<void>;

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {
    const parser = createParser({
      onEvent: (m: EventSourceMessage) => this.items.push({ kind: 'event', id: m.id, event: m.event, data: m.data }),
      onComment: (text) => this.items.push({ kind: 'comment', text }),
      onRetry: (ms) => this.items.push({ kind: 'retry', ms }),
    });
    this.done = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          const text = decoder.decode(chunk, { stream: true });
          this.raw += text;
          parser.feed(text);
        }
      } catch {
        /* aborted */
      } finally {
        this.ended = true;
        this.items.notify();
      }
    })();
  }

  static async open(topics: string[], options: { lastEventId?: string; query?: Record<string, string>; base?: string } = {}): Promise<SseStream> {
    const url = new URL(`${options.base ?? baseUrl()}/v1/events`);
    for (const t of topics) url.searchParams.append('topic', t);
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
    const abort = new AbortController();
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    const response = await fetch(url, { headers, signal: abort.signal });
    if (response.status !== 200) {
      const body = await response.text();
      throw new Error(`SSE ${url} answered ${response.status}: ${body}`);
    }
    const stream = new SseStream(response, abort);
    // The opening comment proves the stream is flowing (and that the join was made).
    await stream.items.find((i) => i.kind === 'comment', 'the opening comment');
    return stream;
  }

  /** Envelopes of the non-reset events, each validated against Envelope. */
  envelopes(topic?: string): Envelope[] {
    return this.items.items
      .filter((i): i is Extract<SseItem, { kind: 'event' }> => i.kind === 'event' && i.event !== 'reset')
      .map((i) => validated(Envelope, JSON.parse(i.data)))
      .filter((e) => topic === undefined || e.topic === topic);
  }

  events(): Extract<SseItem, { kind: 'event' }>[] {
    return this.items.items.filter((i): i is Extract<SseItem, { kind: 'event' }> => i.kind === 'event');
  }

  async waitEnvelopes(count: number, topic?: string): Promise<Envelope[]> {
    await this.items.until(() => this.envelopes(topic).length >= count, `${count} SSE event(s)${topic ? ` on ${topic}` : ''}`);
    return this.envelopes(topic);
  }

  /** Every `event:` frame: id, event name and data agree with the envelope it carries. */
  expectWellFormed(): void {
    for (const item of this.events()) {
      if (item.event === 'reset') {
        ResetSignal.parse(JSON.parse(item.data));
        expect(item.id, 'a reset carries an id').toBeTruthy();
        continue;
      }
      const envelope = Envelope.parse(JSON.parse(item.data));
      expect(item.id).toBe(envelope.id);
      expect(item.event).toBe(envelope.type);
    }
  }

  /** Ends the stream, then checks every event received (ids, names, envelopes, reset signals). */
  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
    this.expectWellFormed();
  }
}

// ---- HTTP -------------------------------------------------------------------------------------

export function topicUrl(topic: string, base = baseUrl()): string {
  return `${base}/v1/topics/${encodeURIComponent(topic)}/events`;
}

export async function publish(
  topic: string,
  type: string,
  data: unknown,
  key?: string,
  base = baseUrl(),
): Promise<{ status: number; body: PublishResponse }> {
  const response = await fetch(topicUrl(topic, base), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(key === undefined ? { type, data } : { type, data, key }),
  });
  const json = await response.json();
  if (response.status >= 300) throw new Error(`publish answered ${response.status}: ${JSON.stringify(json)}`);
  return { status: response.status, body: PublishResponse.parse(json) };
}

export async function poll(
  topic: string,
  params: { after?: string; wait?: number | string } = {},
  base = baseUrl(),
  signal?: AbortSignal,
): Promise<PollResponse> {
  const url = new URL(topicUrl(topic, base));
  if (params.after !== undefined) url.searchParams.set('after', params.after);
  if (params.wait !== undefined) url.searchParams.set('wait', String(params.wait));
  const response = await fetch(url, signal ? { signal } : {});
  const json = await response.json();
  if (response.status !== 200) throw new Error(`poll answered ${response.status}: ${JSON.stringify(json)}`);
  return validated(PollResponse, json);
}

/** Sends a request and checks the JSON error body; returns the parsed error. */
export async function expectHttpError(
  response: Response | Promise<Response>,
  status: number,
  code: string,
): Promise<ErrorBody['error']> {
  const res = await response;
  const text = await res.text();
  expect(res.status, `status for ${text}`).toBe(status);
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  const body = ErrorBody.parse(JSON.parse(text));
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

// ---- server facts -----------------------------------------------------------------------------

let cachedWelcome: WelcomeFrame | undefined;
/** The shared server's limits, as its welcome frame states them. */
export async function serverLimits(): Promise<WelcomeFrame> {
  if (cachedWelcome) return cachedWelcome;
  const ws = await WsClient.connect();
  cachedWelcome = ws.welcome;
  await ws.close();
  return cachedWelcome;
}

export async function metrics(base = baseUrl()): Promise<Map<string, number>> {
  const response = await fetch(`${base}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(\S+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

export async function healthy(base = baseUrl()): Promise<void> {
  const response = await fetch(`${base}/healthz`);
  expect(response.status).toBe(200);
}

/**
 * A subscriber on an unrelated topic over WS and SSE: after a bad input it must still receive
 * every event, proving the server kept serving others and lost nothing.
 */
export class Bystander {
  private constructor(
    readonly topic: string,
    readonly ws: WsClient,
    readonly sse: SseStream,
    private sent = 0,
  ) {}

  static async start(): Promise<Bystander> {
    const topic = uniqueTopic('bystander');
    const ws = await WsClient.connect();
    await ws.subscribe([topic]);
    const sse = await SseStream.open([topic]);
    const b = new Bystander(topic, ws, sse);
    await b.check();
    return b;
  }

  /** Publishes one event and waits until both subscribers hold every event, in order. */
  async check(): Promise<void> {
    const { body } = await publish(this.topic, 'tick', { n: this.sent });
    this.sent++;
    const ws = await this.ws.waitEvents(this.sent, this.topic);
    const sse = await this.sse.waitEnvelopes(this.sent, this.topic);
    expect(ws.map((e) => e.data)).toEqual(Array.from({ length: this.sent }, (_, n) => ({ n })));
    expect(sse.map((e) => e.id)).toEqual(ws.map((e) => e.id));
    expect(ws[ws.length - 1]!.id).toBe(body.id);
  }

  async close(): Promise<void> {
    this.ws.expectAllValid();
    this.sse.expectWellFormed();
    await Promise.all([this.ws.close(), this.sse.close()]);
  }
}

/** Ids are opaque; order comes from the sequence each transport delivered. */
export function expectStrictlyIncreasingIds(ids: string[], reference: string[]): void {
  expect(new Set(ids).size, 'no duplicate ids').toBe(ids.length);
  expect(ids).toEqual(reference);
}

/** Publishes `count` events on `topic` over one WebSocket, pipelined; returns their ids in order. */
export async function publishMany(topic: string, count: number, type = 'bulk', base = baseUrl()): Promise<string[]> {
  const ws = await WsClient.connect(base);
  const prefix = `bulk-${randomBytes(3).toString('hex')}-`;
  for (let i = 0; i < count; i++) ws.send({ type: 'publish', topic, event: { type, data: { i } }, ref: `${prefix}${i}` });
  await ws.frames.until((f) => f.filter((x) => x.type === 'ack' || x.type === 'error').length >= count, `${count} acks`, 60_000);
  const errors = ws.all('error');
  if (errors.length) throw new Error(`bulk publish refused: ${JSON.stringify(errors[0])}`);
  const acks = ws.all('ack');
  const byRef = new Map(acks.map((a) => [a.ref, a.id]));
  await ws.close();
  return Array.from({ length: count }, (_, i) => byRef.get(`${prefix}${i}`)!);
}
