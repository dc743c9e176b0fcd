/**
 * Faults of a cluster: a Node, a Bun and a Deno instance on one Redis that the test starts late,
 * restarts empty, pauses, or under which it kills an instance. Each fault has the outcome that
 * PROTOCOL.md documents (§1 broker lifetime, §7 the reset signal, §9 broker_unavailable and 4009,
 * §12 /healthz): refusals that say so, never a hang, a crash or a silent gap. Raw ws / fetch /
 * eventsource-parser clients, so what is proven is the servers, not the client SDK's recovery.
 */
import { ERROR_STATUS, type Envelope, ErrorBody, HealthResponse, PollResponse, type ServerFrame, compareEventIds } from '@relaykit/contracts';
import type { SpawnedServer } from '@relaykit/conformance/server';
import { createParser } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type NginxProcess, type RedisServer, freePort, rssKiB, startInstance, startNginx, startRedisOn } from './cluster.ts';
import { RUNTIMES, type Runtime, sleep, until } from './servers.ts';

/**
 * RedisBroker's command timeout is 2 s: every answer during a fault comes within it, plus room for
 * a loaded machine. Less than the 5 s pause, so a request held until SIGCONT would exceed it.
 */
const ANSWER_BOUND_MS = 4_500;
/** How long a recovery may take: the broker's reconnect backoff is capped at about 2 s. */
const RECOVERY_MS = 20_000;
const RETRY_MS = 100;
const prefix = `faults${process.pid}:`;

type Cluster = Map<Runtime, SpawnedServer>;

async function startCluster(redisUrl: string, env: Record<string, string> = {}): Promise<Cluster> {
  const started = await Promise.all(RUNTIMES.map((rt) => startInstance(rt, redisUrl, prefix, env)));
  return new Map(RUNTIMES.map((rt, i) => [rt, started[i]!]));
}

const stopCluster = (cluster: Cluster | undefined) => Promise.all([...(cluster?.values() ?? [])].map((s) => s.stop()));
const alive = (server: SpawnedServer) => server.child.exitCode === null && server.child.signalCode === null;
const topicName = (label: string) => `faults.${label}.${Math.random().toString(36).slice(2, 8)}`;
const report = (line: string) => console.log(`[faults] ${line}`);

async function health(base: string): Promise<{ status: number; body: HealthResponse }> {
  const response = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(ANSWER_BOUND_MS) });
  return { status: response.status, body: HealthResponse.parse(await response.json()) };
}

/** Waits until every instance says 200 ok; resolves with how long each took, e.g. "node 210 ms, ...". */
async function untilHealthy(cluster: Cluster, since = Date.now()): Promise<string> {
  const took = await Promise.all(
    [...cluster].map(async ([rt, server]) => {
      const body = await until(`${rt} to report healthy`, async () => {
        const answer = await health(server.url).catch(() => undefined);
        return answer?.status === 200 ? answer.body : undefined;
      }, RECOVERY_MS);
      expect(body).toMatchObject({ status: 'ok', broker: 'ok', server: rt });
      return `${rt} ${Date.now() - since} ms`;
    }),
  );
  return took.join(', ');
}

/** Waits for a condition without failing, for an assertion that shows what is wrong instead. */
const settle = (what: string, check: () => boolean, timeoutMs = 15_000) => until(what, check, timeoutMs).catch(() => false);

/** The answer, which must come within ANSWER_BOUND_MS. */
async function within<T>(answer: Promise<T>): Promise<T> {
  const started = Date.now();
  const value = await answer;
  expect(Date.now() - started).toBeLessThan(ANSWER_BOUND_MS);
  return value;
}

/** Expects the documented refusal: status 503 with `{error:{code:"broker_unavailable"}}`. */
async function expectBrokerUnavailable(response: Response): Promise<void> {
  expect(response.status).toBe(503);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(ErrorBody.parse(await response.json()).error.code).toBe('broker_unavailable');
}

/** The code of a relaykit error body; a proxy's own page (nginx's 502) has none. */
function errorCodeOf(text: string): string {
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data.error.code;
  } catch {
    // not JSON
  }
  return 'no relaykit error body';
}

interface Answer {
  /** HTTP status, 0 when the request got no answer (refused, reset). */
  status: number;
  code?: string;
  ms: number;
}

/** One keyed HTTP publish; never throws. */
async function publishOnce(base: string, topic: string, key: string): Promise<Answer & { id?: string }> {
  const started = Date.now();
  try {
    const response = await fetch(`${base}/v1/topics/${topic}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'f', data: key, key }),
      // Far past the bound: a hang shows up as a slow answer, not a stuck test.
      signal: AbortSignal.timeout(3 * ANSWER_BOUND_MS),
    });
    const text = await response.text();
    const ms = Date.now() - started;
    if (response.status === 201 || response.status === 200) return { status: response.status, ms, id: (JSON.parse(text) as { id: string }).id };
    return { status: response.status, ms, code: errorCodeOf(text) };
  } catch (error) {
    return { status: 0, ms: Date.now() - started, code: (error as Error).message };
  }
}

/**
 * Publishes keyed events (data = key) until stopped, one at a time, round robin over `targets`;
 * a failed attempt is retried with the same key on the next target until it is answered 201 or
 * 200 (duplicate), so each key is published exactly once whatever happened to the attempts.
 */
class KeyedPublisher {
  /** key → the id its publish got. */
  readonly ids = new Map<string, string>();
  readonly answers: Answer[] = [];
  private stopped = false;
  private at = 0;
  readonly done: Promise<void>;

  constructor(
    private readonly label: string,
    private readonly topic: string,
    private readonly targets: readonly string[],
    private readonly pauseMs = 0,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    for (let n = 0; !this.stopped; n++) {
      const key = `${this.label}-${n}`;
      for (;;) {
        const answer = await publishOnce(this.targets[this.at++ % this.targets.length]!, this.topic, key);
        this.answers.push(answer);
        if (answer.id) {
          this.ids.set(key, answer.id);
          break;
        }
        await sleep(RETRY_MS);
      }
      if (this.pauseMs > 0) await sleep(this.pauseMs);
    }
  }

  /** Stops after the key in flight is published. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }
}

/** A WebSocket with its frames queued, to read the answer to each frame sent. */
class WsProbe {
  private readonly frames: ServerFrame[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(data.toString()) as ServerFrame));
  }
  static async open(base: string): Promise<WsProbe> {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/ws`, { perMessageDeflate: false });
    const probe = new WsProbe(ws);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    expect((await probe.next()).type).toBe('welcome');
    return probe;
  }
  async next(): Promise<ServerFrame> {
    await until('a frame', () => this.frames.length > 0, ANSWER_BOUND_MS);
    return this.frames.shift()!;
  }
  send(frame: object): void {
    this.ws.send(JSON.stringify(frame));
  }
  close(): void {
    this.ws.close();
  }
}

/**
 * Keyed publishes over one WebSocket, one every `everyMs` without waiting for the answers; a refused
 * key is sent again after RETRY_MS, until acknowledged.
 */
class WsPublisher {
  readonly ids = new Map<string, string>();
  readonly answers: Answer[] = [];
  private readonly sentAt = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private n = 0;

  private constructor(
    private readonly probe: WsProbe,
    private readonly topic: string,
    private readonly label: string,
    everyMs: number,
  ) {
    probe.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as ServerFrame;
      if (frame.type !== 'ack' && frame.type !== 'error') return;
      const key = String(frame.ref);
      const ms = Date.now() - this.sentAt.get(key)!;
      if (frame.type === 'ack') {
        this.answers.push({ status: frame.duplicate ? 200 : 201, ms });
        this.ids.set(key, frame.id);
        this.sentAt.delete(key);
      } else {
        // The HTTP status the code stands for, to compare with the HTTP publishers' answers.
        this.answers.push({ status: ERROR_STATUS[frame.code], code: frame.code, ms });
        setTimeout(() => this.send(key), RETRY_MS);
      }
    });
    this.timer = setInterval(() => this.send(`${this.label}-${this.n++}`), everyMs);
  }

  static async open(base: string, topic: string, label: string, everyMs: number): Promise<WsPublisher> {
    return new WsPublisher(await WsProbe.open(base), topic, label, everyMs);
  }

  private send(key: string): void {
    this.sentAt.set(key, Date.now());
    this.probe.send({ type: 'publish', topic: this.topic, event: { type: 'f', data: key }, key, ref: key });
  }

  /** Stops sending new keys; resolves once every key sent was acknowledged. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await until(`${this.label} to have every key acknowledged`, () => this.sentAt.size === 0, RECOVERY_MS);
    this.probe.close();
  }
}

type Signal = 'reset' | 'resume_required';

/**
 * One subscriber of one topic over every connection it makes, as a careful client would: on any
 * end it reconnects (to `next()`) and resumes with its last id; a refusal is retried.
 */
abstract class Follower {
  readonly events: Envelope[] = [];
  /** Reset signals and resume-required ends (4009, SSE `event: error`), in the order they came. */
  readonly signals: Signal[] = [];
  /** Refusals of a connection attempt (HTTP status and code, or error frame code). */
  readonly refusals: string[] = [];
  /** Connections that were accepted, the first included. */
  connections = 0;
  lastId: string | undefined;
  protected stopped = false;
  private markLive!: () => void;
  /** Settles once the first connection is subscribed. */
  readonly live = new Promise<void>((resolve) => (this.markLive = resolve));

  constructor(
    readonly name: string,
    readonly topic: string,
    first: string,
    private readonly next: () => string,
    /** Resume the first connection from this id. */
    lastId?: string,
  ) {
    this.lastId = lastId;
    // After the subclass's own fields are initialised: connect() sets them.
    queueMicrotask(() => void this.run(first));
  }

  private async run(first: string): Promise<void> {
    for (let base = first; !this.stopped; base = this.next()) {
      await this.connect(base).catch(() => {});
      if (!this.stopped) await sleep(RETRY_MS);
    }
  }

  /** One connection: resolves when it ends, was refused, or could not be made. */
  protected abstract connect(base: string): Promise<void>;

  protected wentLive(): void {
    this.markLive();
  }

  protected received(event: Envelope): void {
    this.events.push(event);
    this.lastId = event.id;
  }

  ids(): string[] {
    return this.events.map((event) => event.id);
  }

  abstract stop(): void;
}

class WsFollower extends Follower {
  /** welcome.server of each connection. */
  readonly servers: string[] = [];
  private ws: WebSocket | undefined;

  protected connect(base: string): Promise<void> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/ws`, { perMessageDeflate: false });
      this.ws = ws;
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as ServerFrame;
        if (frame.type === 'welcome') {
          this.servers.push(frame.server);
          // With no id yet, from the position: a reconnect before the first event then loses nothing.
          this.lastId ??= frame.position;
          ws.send(JSON.stringify({ type: 'subscribe', topics: [this.topic], lastEventId: this.lastId, ref: 's' }));
        } else if (frame.type === 'subscribed') {
          this.connections++;
          this.wentLive();
        } else if (frame.type === 'reset') {
          this.signals.push('reset');
          this.lastId = frame.position; // as SSE's reset moves the browser's id: the stale one is done with
        } else if (frame.type === 'event') this.received(frame.event);
        else if (frame.type === 'error' && frame.ref === 's') {
          this.refusals.push(frame.code);
          ws.close();
        }
      });
      ws.on('close', (code) => {
        if (code === 4009) this.signals.push('resume_required');
        resolve();
      });
      ws.on('error', () => {}); // 'close' follows
    });
  }

  stop(): void {
    this.stopped = true;
    this.ws?.close();
  }
}

class SseFollower extends Follower {
  private abort: AbortController | undefined;

  protected async connect(base: string): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    const response = await fetch(`${base}/v1/events?topic=${this.topic}`, {
      headers: this.lastId === undefined ? {} : { 'last-event-id': this.lastId },
      signal: abort.signal,
    });
    if (response.status !== 200) {
      const body = ErrorBody.safeParse(await response.json().catch(() => null));
      this.refusals.push(`${response.status} ${body.success ? body.data.error.code : ''}`);
      return;
    }
    this.connections++;
    const parser = createParser({
      // A fresh stream's first id is its starting position: from then on it is subscribed.
      onId: (id) => {
        this.lastId = id;
        this.wentLive();
      },
      onEvent: (message) => {
        if (message.event === 'reset') this.signals.push('reset');
        else if (message.event === 'error') {
          if ((JSON.parse(message.data) as { code?: string }).code === 'resume_required') this.signals.push('resume_required');
        } else this.received(JSON.parse(message.data) as Envelope);
      },
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // Aborted, or the server went away: the caller reconnects.
    }
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}

/** A WS and an SSE follower of `topic` on every instance, each resuming on the same instance. */
async function followEverywhere(cluster: Cluster, topic: string): Promise<Follower[]> {
  const followers: Follower[] = [];
  for (const [rt, server] of cluster) {
    followers.push(new WsFollower(`${rt} ws`, topic, server.url, () => server.url));
    followers.push(new SseFollower(`${rt} sse`, topic, server.url, () => server.url));
  }
  await Promise.all(followers.map((f) => f.live));
  return followers;
}

/** Strictly increasing ids: in order, and none twice. */
function expectAscending(follower: Follower): void {
  const ids = follower.ids();
  for (let i = 1; i < ids.length; i++) {
    if (compareEventIds(ids[i - 1]!, ids[i]!) >= 0) throw new Error(`${follower.name}: ${ids[i]} after ${ids[i - 1]} (out of order or twice)`);
  }
}

describe('Redis unreachable when the instances start', () => {
  let port = 0;
  let cluster: Cluster | undefined;
  let redis: RedisServer | undefined;
  const probes = new Map<Runtime, WsProbe>();

  beforeAll(async () => {
    port = await freePort(); // nothing listens there until the second test
    cluster = await startCluster(`redis://127.0.0.1:${port}`);
  });

  afterAll(async () => {
    for (const probe of probes.values()) probe.close();
    await stopCluster(cluster);
    redis?.stop();
  });

  it('keeps every instance running, degraded, refusing each transport with broker_unavailable', async () => {
    const topic = topicName('early');
    await Promise.all(
      [...cluster!].map(async ([rt, server]) => {
        const { status, body } = await health(server.url);
        expect(status).toBe(503);
        expect(body).toMatchObject({ status: 'degraded', broker: 'unavailable', server: rt, connections: 0 });

        await expectBrokerUnavailable(
          await within(fetch(`${server.url}/v1/topics/${topic}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"f"}' })),
        );
        // Refused before the 200: the stream never opens.
        await expectBrokerUnavailable(await within(fetch(`${server.url}/v1/events?topic=${topic}`)));
        await expectBrokerUnavailable(await within(fetch(`${server.url}/v1/topics/${topic}/events?wait=0`)));

        const probe = await WsProbe.open(server.url);
        probes.set(rt, probe);
        probe.send({ type: 'publish', topic, event: { type: 'f', data: 1 }, ref: 'p' });
        expect(await probe.next()).toMatchObject({ type: 'error', code: 'broker_unavailable', ref: 'p' });
        probe.send({ type: 'subscribe', topics: [topic], ref: 's' });
        expect(await probe.next()).toMatchObject({ type: 'error', code: 'broker_unavailable', ref: 's' });
        expect(alive(server)).toBe(true);
      }),
    );
  });

  it('recovers without a restart once Redis starts on that port: healthy, publishing, delivering everywhere', async () => {
    const started = Date.now();
    redis = await startRedisOn(port);
    const recoveredMs = await untilHealthy(cluster!, started);
    report(`Redis late: healthy after redis-server started: ${recoveredMs}`);

    const topic = topicName('late');
    const followers = await followEverywhere(cluster!, topic);
    // The WebSockets opened while Redis was unreachable subscribe on the same connection now.
    for (const probe of probes.values()) probe.send({ type: 'subscribe', topics: [topic], ref: 's2' });
    for (const probe of probes.values()) expect(await probe.next()).toMatchObject({ type: 'subscribed', topics: [topic], ref: 's2' });

    const ids: string[] = [];
    for (const server of cluster!.values()) {
      const answer = await publishOnce(server.url, topic, `late-${ids.length}`);
      expect(answer.status).toBe(201);
      ids.push(answer.id!);
    }
    for (const f of followers) await until(`${f.name} to get 3 events`, () => f.events.length >= 3);
    for (const f of followers) expect(f.ids()).toEqual(ids);
    for (const probe of probes.values()) {
      const got = [await probe.next(), await probe.next(), await probe.next()];
      expect(got.map((frame) => (frame.type === 'event' ? frame.event.id : frame.type))).toEqual(ids);
    }
    for (const f of followers) expect(f.signals).toEqual([]);
    for (const f of followers) f.stop();
  });
});

describe('Redis restarted empty mid-stream', () => {
  let cluster: Cluster | undefined;
  let redis: RedisServer | undefined;

  beforeAll(async () => {
    redis = await startRedisOn(await freePort());
    // Heartbeats are not under test: a process resumed from SIGSTOP must not drop its peers first.
    cluster = await startCluster(redis.url, { HEARTBEAT_MS: '60000' });
  });

  afterAll(async () => {
    for (const server of cluster?.values() ?? []) server.signal('SIGCONT');
    await stopCluster(cluster);
    redis?.stop();
  });

  it.each(RUNTIMES)('reconnects by itself, tells every open connection to resume, and resets resumes from before, %s awake first: never a silent gap', async (awake) => {
    const topic = topicName(`restart-${awake}`);
    const followers = await followEverywhere(cluster!, topic);
    const urls = [...cluster!.values()].map((s) => s.url);
    const before: string[] = [];
    for (let i = 0; i < 6; i++) before.push((await publishOnce(urls[i % 3]!, topic, `before-${i}`)).id!);
    for (const f of followers) await until(`${f.name} to get the first 6`, () => f.events.length >= 6);
    // And a long poll held on each instance across the restart.
    const stale = before.at(-1)!;
    const held = urls.map(async (url) => {
      const response = await fetch(`${url}/v1/topics/${topic}/events?after=${stale}&wait=30`);
      return { status: response.status, body: (await response.json()) as unknown, at: Date.now() };
    });
    await until('the polls to be held', async () => (await Promise.all(urls.map(health))).every((h) => h.body.connections === 3));

    // The others are stopped (SIGSTOP) across the restart, so that events are published while
    // their broker links are down: the gap their open connections must be told about.
    const asleep = [...cluster!].filter(([rt]) => rt !== awake).map(([, server]) => server);
    for (const server of asleep) server.signal('SIGSTOP');
    redis!.stop();
    await redis!.exited;
    const restarted = Date.now();
    redis = await startRedisOn(redis!.port);
    const after: string[] = [];
    const publishUntilAccepted = async (i: number, targets: string[]) => {
      const key = `after-${i}`;
      let answer = await publishOnce(targets[i % targets.length]!, topic, key);
      for (let n = 1; !answer.id; n++) {
        expect(answer).toMatchObject({ status: 503, code: 'broker_unavailable' });
        expect(Date.now() - restarted).toBeLessThan(RECOVERY_MS);
        await sleep(RETRY_MS);
        answer = await publishOnce(targets[(i + n) % targets.length]!, topic, key);
      }
      after.push(answer.id);
    };
    for (let i = 0; i < 3; i++) await publishUntilAccepted(i, [cluster!.get(awake)!.url]);
    const awakeMs = Date.now() - restarted;
    for (const server of asleep) server.signal('SIGCONT');
    for (let i = 3; i < 6; i++) await publishUntilAccepted(i, urls);
    const healthyMs = await untilHealthy(cluster!, restarted);

    await Promise.all(followers.map((f) => settle(`${f.name} to get the resume signal and the 6 new events`, () => f.events.length >= 12, RECOVERY_MS)));
    const signalledMs = Date.now() - restarted;
    for (const f of followers) {
      // Exactly what was published, each once: nothing skipped, and the new epoch announced.
      expect(f.ids(), f.name).toEqual([...before, ...after]);
      expect(f.signals, f.name).toEqual(['resume_required', 'reset']);
      expect(f.connections, f.name).toBeGreaterThanOrEqual(2);
      // A resume tried before its instance was back was refused, and said why.
      for (const refusal of f.refusals) expect(refusal, f.name).toMatch(/^(503 )?broker_unavailable$/);
    }
    for (const answer of await Promise.all(held)) {
      // At once, not after its 30 s: with nothing, its cursor staying at the stale id (or refused, if
      // its own read of Redis was still in flight when Redis died).
      expect(answer.at - restarted).toBeLessThan(RECOVERY_MS);
      if (answer.status === 200) expect(PollResponse.parse(answer.body)).toEqual({ events: [], cursor: stale });
      else expect(answer).toMatchObject({ status: 503, body: { error: { code: 'broker_unavailable' } } });
    }
    report(`Redis restarted empty, ${awake} awake first: 3 published on ${awake} by ${awakeMs} ms, healthy after ${healthyMs}, every connection resumed with a reset by ${signalledMs} ms (${followers.reduce((n, f) => n + f.refusals.length, 0)} resumes refused with broker_unavailable meanwhile)`);

    // A resume from before the restart, on each transport of each instance, gets the reset signal.
    for (const [rt, server] of cluster!) {
      const poll = PollResponse.parse(await (await fetch(`${server.url}/v1/topics/${topic}/events?after=${stale}&wait=0`)).json());
      expect(poll.reset, rt).toEqual({ code: 'history_unavailable', topics: [topic] });
      expect(poll.events.map((e) => e.id)).toEqual(after);
    }
    const resumed = [...cluster!].flatMap(([rt, server]) => {
      const again = () => server.url;
      return [new SseFollower(`${rt} sse resume`, topic, server.url, again, stale), new WsFollower(`${rt} ws resume`, topic, server.url, again, stale)];
    });
    await Promise.all(resumed.map((f) => settle(`${f.name} to replay the new epoch`, () => f.events.length >= 6)));
    for (const f of resumed) {
      expect(f.signals, f.name).toEqual(['reset']);
      expect(f.ids(), f.name).toEqual(after);
    }

    // New subscriptions are live on every instance.
    const fresh = await followEverywhere(cluster!, topicName('fresh'));
    const live: string[] = [];
    for (const url of urls) live.push((await publishOnce(url, fresh[0]!.topic, `live-${live.length}`)).id!);
    for (const f of fresh) await until(`${f.name} to get 3 live events`, () => f.events.length >= 3);
    for (const f of fresh) expect(f.ids()).toEqual(live);
    for (const f of [...followers, ...resumed, ...fresh]) f.stop();
    for (const [rt, server] of cluster!) expect(alive(server), rt).toBe(true);
  });
});

describe('Redis paused (SIGSTOP) for 5 s under publishing', () => {
  let cluster: Cluster | undefined;
  let redis: RedisServer | undefined;

  beforeAll(async () => {
    redis = await startRedisOn(await freePort());
    // Room for everything published here: a resume must never need a reset.
    cluster = await startCluster(redis.url, { HISTORY_SIZE: '10000' });
  });

  afterAll(async () => {
    redis?.signal('SIGCONT');
    await stopCluster(cluster);
    redis?.stop();
  });

  it('answers every request within the bound, stays up with bounded memory, and loses nothing', async () => {
    const topic = topicName('pause');
    const followers = await followEverywhere(cluster!, topic);
    const urls = [...cluster!.values()].map((s) => s.url);
    // Per instance: two HTTP publishers, and a WebSocket publisher that does not wait for answers.
    const publishers = urls.flatMap((url, i) => [0, 1].map((n) => new KeyedPublisher(`http${i}.${n}`, topic, [url], 20)));
    const wsPublishers = await Promise.all(urls.map((url, i) => WsPublisher.open(url, topic, `ws${i}`, 5)));
    const all = [...publishers, ...wsPublishers];
    const accepted = () => all.reduce((n, p) => n + p.ids.size, 0);
    await until('100 publishes before the pause', () => accepted() >= 100);
    const rss = () => new Map([...cluster!].map(([rt, s]) => [rt, rssKiB(s.pid)]));
    const before = rss();

    redis!.signal('SIGSTOP');
    const pause = watchPause(cluster!, 5_000);
    await until('every instance to report degraded', () => pause.degraded.size === cluster!.size, 2 * ANSWER_BOUND_MS);
    // New streams and subscriptions are refused too, within the bound.
    await Promise.all(
      [...cluster!.values()].map(async (server) => {
        await expectBrokerUnavailable(await within(fetch(`${server.url}/v1/events?topic=${topicName('new')}`)));
        const probe = await WsProbe.open(server.url);
        probe.send({ type: 'subscribe', topics: [topicName('new')], ref: 's' });
        expect(await probe.next()).toMatchObject({ type: 'error', code: 'broker_unavailable', ref: 's' });
        probe.close();
      }),
    );
    // A publish Redis ran just before the pause may be answered up to 2 s later (its delivery
    // barrier, a PING on the subscriber link, times out); after that nothing can be accepted.
    await sleep(pause.startedAt + 3_000 - Date.now());
    const acceptedLate = accepted();
    await pause.done;
    expect(accepted(), 'publishes accepted in the last 2 s of the pause').toBe(acceptedLate);
    redis!.signal('SIGCONT');
    const recovered = await untilHealthy(cluster!);
    await until('a publish on every instance after the pause', () => publishers.every((p) => p.answers.at(-1)?.status === 201), RECOVERY_MS);
    await Promise.all(all.map((p) => p.stop()));
    const answers = all.flatMap((p) => p.answers);
    const published = new Set(all.flatMap((p) => [...p.ids.values()]));
    await Promise.all(followers.map((f) => settle(`${f.name} to get all ${published.size} events`, () => f.events.length >= published.size, RECOVERY_MS)));
    const after = rss();

    // Every attempt answered within the bound; each failure said why; no instance went down.
    const failures = answers.filter((a) => a.status !== 201 && a.status !== 200);
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) expect(failure).toMatchObject({ status: 503, code: 'broker_unavailable' });
    const slowest = Math.max(...answers.map((a) => a.ms));
    expect(slowest, JSON.stringify(answers.filter((a) => a.ms >= ANSWER_BOUND_MS / 2))).toBeLessThan(ANSWER_BOUND_MS);
    expect(Math.max(...pause.healthMs)).toBeLessThan(ANSWER_BOUND_MS);
    for (const [rt, server] of cluster!) expect(alive(server), rt).toBe(true);

    // Nothing lost, nothing twice: a connection may have been told to resume, never reset.
    for (const f of followers) {
      expect(new Set(f.ids()), f.name).toEqual(published);
      expectAscending(f);
      expect(f.signals.filter((s) => s === 'reset'), f.name).toEqual([]);
    }

    // Bounded memory: generous, as RSS depends on the runtime and its collector.
    for (const rt of cluster!.keys()) {
      expect(pause.peakKiB.get(rt)!).toBeLessThan(before.get(rt)! + 100 * 1024);
      expect(after.get(rt)!).toBeLessThan(before.get(rt)! + 100 * 1024);
    }
    const mib = (kib: number | undefined) => ((kib ?? 0) / 1024).toFixed(1);
    report(
      `Redis paused 5 s: ${failures.length} attempts refused with 503/broker_unavailable (slowest answer ${slowest} ms, slowest /healthz ${Math.max(...pause.healthMs)} ms); ` +
        `healthy after SIGCONT: ${recovered}; ${published.size} events, each delivered once to each of ${followers.length} followers; ` +
        `resume signals: ${followers.reduce((n, f) => n + f.signals.length, 0)}, duplicates answered: ${answers.filter((a) => a.status === 200).length}`,
    );
    report(`RSS MiB before/peak in pause/after: ${[...cluster!.keys()].map((rt) => `${rt} ${mib(before.get(rt))}/${mib(pause.peakKiB.get(rt))}/${mib(after.get(rt))}`).join(', ')}`);

    // And a new subscription on every instance is live.
    const fresh = await followEverywhere(cluster!, topicName('after-pause'));
    const live: string[] = [];
    for (const url of urls) live.push((await publishOnce(url, fresh[0]!.topic, `live-${live.length}`)).id!);
    for (const f of fresh) await until(`${f.name} to get 3 live events`, () => f.events.length >= 3);
    for (const f of fresh) expect(f.ids()).toEqual(live);
    for (const f of [...followers, ...fresh]) f.stop();
  });
});

/** Samples every instance's RSS and /healthz every 200 ms for `ms`: the peaks, and who said degraded. */
function watchPause(cluster: Cluster, ms: number) {
  const peakKiB = new Map<Runtime, number>();
  const degraded = new Set<Runtime>();
  const healthMs: number[] = [];
  const startedAt = Date.now();
  const done = (async () => {
    for (const end = startedAt + ms; Date.now() < end; await sleep(200)) {
      await Promise.all(
        [...cluster].map(async ([rt, server]) => {
          peakKiB.set(rt, Math.max(peakKiB.get(rt) ?? 0, rssKiB(server.pid)));
          const asked = Date.now();
          const { status, body } = await health(server.url);
          healthMs.push(Date.now() - asked);
          if (status === 503 && body.status === 'degraded' && body.broker === 'unavailable') degraded.add(rt);
        }),
      );
    }
  })();
  return { startedAt, peakKiB, degraded, healthMs, done };
}

describe('an instance killed (SIGKILL) mid-stream', () => {
  let cluster: Cluster | undefined;
  let redis: RedisServer | undefined;
  let nginx: NginxProcess | undefined;
  const env = { HISTORY_SIZE: '10000' };

  beforeAll(async () => {
    redis = await startRedisOn(await freePort());
    cluster = await startCluster(redis.url, env);
    nginx = await startNginx([...cluster.values()].map((s) => s.port));
  });

  afterAll(async () => {
    nginx?.stop();
    await stopCluster(cluster);
    redis?.stop();
  });

  it.each(RUNTIMES)('moves the subscribers of %s to the others through nginx, resuming with 0 lost and 0 twice', async (victim) => {
    const topic = topicName(`kill-${victim}`);
    const dead = cluster!.get(victim)!;
    const via = () => nginx!.http;
    const followers: Follower[] = [];
    for (const [rt, server] of cluster!) {
      followers.push(new WsFollower(`${rt} ws`, topic, server.url, via), new SseFollower(`${rt} sse`, topic, server.url, via));
    }
    await Promise.all(followers.map((f) => f.live));
    const onVictim = followers.filter((f) => f.name.startsWith(victim));
    const urls = [...cluster!.values()].map((s) => s.url);
    // One publisher straight to the instances in turn, one through nginx; both retry a failed key.
    const publishers = [new KeyedPublisher(`direct-${victim}`, topic, urls, 10), new KeyedPublisher(`nginx-${victim}`, topic, [nginx!.http], 10)];
    await until('40 events on every follower', () => followers.every((f) => f.events.length >= 40));

    dead.signal('SIGKILL');
    await dead.exited;
    const killed = Date.now();
    const atKill = Math.max(...onVictim.map((f) => f.events.length));
    await until(`the subscribers of ${victim} to resume elsewhere and get 40 more`, () => onVictim.every((f) => f.connections >= 2 && f.events.length >= atKill + 40), RECOVERY_MS);
    const movedMs = Date.now() - killed;
    await Promise.all(publishers.map((p) => p.stop()));

    const published = new Set(publishers.flatMap((p) => [...p.ids.values()]));
    expect(published.size).toBe(publishers.reduce((n, p) => n + p.ids.size, 0));
    await Promise.all(followers.map((f) => settle(`${f.name} to get all ${published.size} events`, () => f.events.length >= published.size)));
    for (const f of followers) {
      expectAscending(f);
      expect(new Set(f.ids()), f.name).toEqual(published);
      expect(f.signals, f.name).toEqual([]);
      expect(f.connections, f.name).toBe(onVictim.includes(f) ? 2 : 1);
    }
    for (const f of onVictim.filter((f): f is WsFollower => f instanceof WsFollower)) expect(f.servers.slice(1)).not.toContain(victim);
    for (const [rt, server] of cluster!) if (rt !== victim) expect(alive(server), rt).toBe(true);
    const answers = publishers.flatMap((p) => p.answers);
    const failed = answers.filter((a) => !(a.status === 201 || a.status === 200));
    const kinds = new Set(failed.map((a) => (a.status === 0 ? `no answer (${a.code})` : `${a.status} ${a.code ?? ''}`.trim())));
    report(
      `SIGKILL ${victim}: its WS and SSE subscribers resumed elsewhere within ${movedMs} ms, ${published.size} keyed events, ` +
        `${failed.length} failed attempts (${[...kinds].join('; ')}), ` +
        `${answers.filter((a) => a.status === 200).length} retries answered as duplicates`,
    );
    for (const f of followers) f.stop();
    // Back on the same port, so nginx's upstream list stays true for the next victim.
    cluster!.set(victim, await startInstance(victim, redis!.url, prefix, { ...env, PORT: String(dead.port) }));
  });
});
