/** What the server under test says about itself (limits, metrics, health), and helpers built on them. */
import { randomBytes } from 'node:crypto';
import type { WelcomeFrame } from '@relaykit/contracts';
import { expect } from 'vitest';
import { WAIT_MS, sleep } from './collector.ts';
import { publish } from './http.ts';
import { SseStream } from './sse-stream.ts';
import { baseUrl, uniqueTopic } from './target.ts';
import { WsClient } from './ws-client.ts';

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
