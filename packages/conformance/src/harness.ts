import { createHash, randomBytes } from 'node:crypto';
import { type Socket, connect as netConnect } from 'node:net';
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

// ---- bounded input and memory: depth, raw sockets, raw WebSocket frames -----------------------

/** MAX_JSON_DEPTH's default (PROTOCOL.md §13), for a server whose welcome does not state it. */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/** The server's MAX_JSON_DEPTH, as its welcome frame states it. */
export async function maxJsonDepth(base?: string): Promise<number> {
  let welcome: WelcomeFrame;
  if (base === undefined) welcome = await serverLimits();
  else {
    const ws = await WsClient.connect(base);
    welcome = ws.welcome;
    await ws.close();
  }
  return (welcome as Partial<WelcomeFrame>).maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
}

/**
 * JSON text that nests `depth` arrays (`[[1]]` is 2) or objects (`{"k":{"k":1}}` is 2) around the
 * scalar `leaf`; built as text, so no recursive function of this process ever walks it.
 */
export function nestedJson(depth: number, kind: 'array' | 'object' = 'array', leaf = '0'): string {
  if (kind === 'array') return `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
  return `${'{"k":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
}

/** Nesting depth of a JSON text, read on the text (brackets inside strings do not count); no recursion. */
export function jsonTextDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') max = Math.max(max, ++depth);
    else if (c === ']' || c === '}') depth--;
  }
  return max;
}

/** A value from a gauge or counter, waiting until `condition` holds (the server updates gauges as it goes). */
export async function metricUntil(
  name: string,
  condition: (value: number) => boolean,
  what: string,
  base = baseUrl(),
  timeoutMs = WAIT_MS,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = (await metrics(base)).get(name) ?? Number.NaN;
    if (condition(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${name} is ${value}`);
    await sleep(50);
  }
}

/** The socket under a `ws` client, to stop reading from it as a slow client would. */
export function socketOf(client: WsClient): Socket {
  return (client.ws as unknown as { _socket: Socket })._socket;
}

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
