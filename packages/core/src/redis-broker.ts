import {
  type Broker,
  type BrokerListener,
  type Envelope,
  type HistoryPage,
  type HistoryStats,
  type PublishInput,
  type PublishResult,
  type ReplayResult,
  encodeEvent,
  compareEventIds,
  formatEventId,
  newEpoch,
  parseEventId,
  type RedisSentinelConfig,
} from '@relaykit/contracts';
import { ErrorReply, createClient } from 'redis';
import { RedisPresence } from './redis/presence.js';
import {
  HISTORY_LUA,
  META_LUA,
  PRESENCE_ADD_LUA,
  PRESENCE_MEMBERS_LUA,
  PRESENCE_REFRESH_LUA,
  PRESENCE_REMOVE_LUA,
  PUBLISH_LUA,
  REPLAY_LUA,
} from './redis/scripts.js';
import { SentinelLocator } from './redis/sentinel.js';

export interface RedisBrokerOptions {
  /** redis:// or rediss:// (TLS): one Redis. Exactly one of url and sentinel. */
  url?: string;
  /** Sentinels that name the master: both connections follow it through a failover. */
  sentinel?: RedisSentinelConfig;
  /** Events kept per topic stream (HISTORY_SIZE); 0 keeps none but still assigns ids. */
  historySize: number;
  /** Streams kept at once, cluster-wide (MAX_HISTORIES); default 10,000. */
  maxHistories?: number;
  /** A stream with no publish for this long expires (HISTORY_TTL_MS); 0 = never. */
  ttlMs?: number;
  /** How long a publish key is remembered, cluster-wide; default 300,000. */
  idempotencyTtlMs?: number;
  /** Every Redis call rejects with BrokerUnavailableError after this long; default 2,000. */
  commandTimeoutMs?: number;
  /** Prefix of every key and channel; default 'relaykit:'. Pub/sub ignores the db number, so
   *  deployments sharing one Redis must differ here. */
  keyPrefix?: string;
  /** Subscriber liveness PING and position/stats refresh period; default 5,000. */
  pingIntervalMs?: number;
  /** How often this process pushes its presence members' expiry ahead (HEARTBEAT_MS); they expire after twice it. Default 15,000. */
  presenceRefreshMs?: number;
  /**
   * Called with the watched topics whose live stream has a hole that the streams can no longer
   * fill (after a subscriber reconnect: trimmed or dropped past the last delivered event, or a new
   * epoch). Called synchronously before any later event of those topics reaches the listener, so
   * the callback must detach their subscribers synchronously (close them to make them resume).
   */
  onGap?: (topics: string[]) => void;
  /** Clock for new epochs (the event time is Redis's TIME). */
  now?: () => number;
}

/** Redis is unreachable, paused or too slow: retryable, `code` = 'broker_unavailable'. */
export class BrokerUnavailableError extends Error {
  readonly code = 'broker_unavailable' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrokerUnavailableError';
  }
}

/** The few node-redis calls used, typed narrowly (the full client type is heavy and generic). */
interface Conn {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  subscribe(channels: string | string[], listener: (message: string, channel: string) => void): Promise<void>;
  unsubscribe(channels: string | string[], listener: (message: string, channel: string) => void): Promise<void>;
  ping(): Promise<unknown>;
  duplicate(overrides: object): Conn;
  destroy(): void;
  close(): Promise<void>;
  on(event: string, handler: (...args: unknown[]) => void): unknown;
}

interface Subscriber {
  client: Conn;
  listener: (message: string, channel: string) => void;
}

/** A watched topic: `seen` is the newest seq handed to the listener (or known to be covered). */
interface Watch {
  seen: number;
  arming: boolean;
}

interface Script {
  body: string;
  sha: string;
}

interface Snapshot {
  epoch: string;
  seq: number;
  /** When the data's epoch succeeded the id's epoch: the last seq of it the data kept, else -1. */
  inherited: number;
  topics: { reset: boolean; frames: string[] }[];
}

const SCRIPTS = {
  publish: PUBLISH_LUA,
  replay: REPLAY_LUA,
  meta: META_LUA,
  history: HISTORY_LUA,
  presenceAdd: PRESENCE_ADD_LUA,
  presenceRemove: PRESENCE_REMOVE_LUA,
  presenceRefresh: PRESENCE_REFRESH_LUA,
  presenceMembers: PRESENCE_MEMBERS_LUA,
} as const;
type ScriptName = keyof typeof SCRIPTS;

/** Server errors that mean "not now" rather than a bug in a script or a call. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|OOM|NOREPLICAS)/;

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}

/**
 * A Broker on one Redis shared by every relaykit process (Node, Bun, Deno alike): one id sequence,
 * histories in streams, live events over pub/sub with one subscriber connection per process.
 *
 * Ordering: a publish is one Lua script (idempotency, epoch, seq, XADD, PUBLISH), so Redis runs
 * publishes one at a time and writes their messages to every subscriber connection in seq order.
 * This process delivers only what its subscriber connection receives, so the listener sees ids in
 * order. position() only moves to a seq once the subscriber has received everything up to it: a
 * seq read on the command connection is applied after a PING on the subscriber connection comes
 * back (its reply follows every message published before), so position is never ahead of what
 * the listener was handed. After a subscriber reconnect, watched topics are refilled from one
 * atomic snapshot of their streams, so the hand-over from snapshot to live has no gap either.
 */
export class RedisBroker implements Broker {
  private epoch: string;
  private seq = 0;
  /** Epochs this process has left behind: a late message of one is stale, never newer. */
  private readonly retired = new Set<string>();
  private listener: BrokerListener = () => {};
  private readonly watched = new Map<string, Watch>();
  private readonly ops = new Map<string, Promise<void>>();
  /** The command connection; in Sentinel mode replaced on every reconnect (undefined meanwhile). */
  private main: Conn | undefined;
  private mainAttempts = 0;
  private mainTimer: ReturnType<typeof setTimeout> | undefined;
  /** Drops the current command connection attempt or connection and schedules the next one. */
  private dropMain: (() => void) | undefined;
  private readonly locator: SentinelLocator | undefined;
  private sub: Subscriber | undefined;
  /** The subscriber is subscribed and refilled: live frames go straight to the listener. */
  private live = false;
  /** Frames received while the subscriber is being refilled, delivered after the snapshot. */
  private queue: [string, string][] = [];
  private liveWaiters: (() => void)[] = [];
  private subAttempts = 0;
  private subTimer: ReturnType<typeof setTimeout> | undefined;
  private tickTimer: ReturnType<typeof setInterval> | undefined;
  private target: { epoch: string; seq: number } | undefined;
  private barrierRunning = false;
  private barrierWaiters: (() => void)[] = [];
  private histories = 0;
  private stalled = false;
  private closed = false;
  private scripts: Record<ScriptName, Script> | undefined;
  readonly presence: RedisPresence;
  /** Presence channels subscribed, with their listeners: subscribed again on every new subscriber connection. */
  private readonly presenceChannels = new Map<string, (message: string) => void>();
  private readonly opts: Required<Omit<RedisBrokerOptions, 'onGap' | 'url' | 'sentinel'>> & Pick<RedisBrokerOptions, 'onGap' | 'url' | 'sentinel'>;
  private readonly k: { meta: string; idx: string; gone: string; stream: string; channel: string; key: string };

  constructor(options: RedisBrokerOptions) {
    this.opts = {
      maxHistories: 10_000,
      ttlMs: 0,
      idempotencyTtlMs: 300_000,
      commandTimeoutMs: 2_000,
      keyPrefix: 'relaykit:',
      pingIntervalMs: 5_000,
      presenceRefreshMs: 15_000,
      now: Date.now,
      ...options,
    };
    const p = this.opts.keyPrefix;
    const cap = (name: string) => `presence${name[0]!.toUpperCase()}${name.slice(1)}` as ScriptName;
    this.presence = new RedisPresence(
      {
        run: (script, keys, args) => this.evalScript(this.scripts?.[cap(script)], keys, args),
        subscribe: (channel, listener) => this.subscribeChannel(channel, listener),
        unsubscribe: (channel, listener) => this.unsubscribeChannel(channel, listener),
      },
      p,
      this.opts.presenceRefreshMs,
    );
    this.k = { meta: `${p}meta`, idx: `${p}idx`, gone: `${p}gone`, stream: `${p}s:`, channel: `${p}c:`, key: `${p}i:` };
    // Until Redis answers, a provisional epoch: ids of it are reset later, never misread.
    this.epoch = newEpoch(this.opts.now());
    if ((options.url === undefined) === (options.sentinel === undefined)) throw new Error('RedisBroker needs exactly one of url and sentinel');
    if (options.sentinel) {
      this.locator = new SentinelLocator(options.sentinel, this.opts.commandTimeoutMs);
      return;
    }
    this.main = createClient({
      url: options.url,
      // Commands fail at once while disconnected instead of queueing (a queued publish could
      // happen after its caller was told it failed); the queue bound caps memory while paused.
      disableOfflineQueue: true,
      commandsQueueMaxLength: 10_000,
      socket: {
        connectTimeout: this.opts.commandTimeoutMs,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000) + Math.floor(Math.random() * 100),
      },
    }) as unknown as Conn;
    // node-redis emits 'error' on every failed (re)connect: without a handler it would throw.
    this.main.on('error', () => {});
  }

  /** Connects, starts the subscriber, reads the epoch. Rejects after commandTimeoutMs if Redis is
   *  unreachable, but keeps trying in the background: the broker works once Redis is back. */
  async connect(): Promise<void> {
    const entries = await Promise.all(Object.entries(SCRIPTS).map(async ([name, body]) => [name, { body, sha: await sha1(body) }] as const));
    this.scripts = Object.fromEntries(entries) as Record<ScriptName, Script>;
    if (this.locator) this.startMain();
    else this.main!.connect().catch(() => {});
    this.tickTimer = setInterval(() => void this.tick(), this.opts.pingIntervalMs);
    unref(this.tickTimer);
    this.startSubscriber();
    await this.within(this.untilLive(true), 'connect');
    await this.tick();
  }

  /** False while Redis is unreachable or not answering: for /healthz. */
  get healthy(): boolean {
    return !this.closed && !!this.main?.isReady && this.live && !this.stalled;
  }

  /** Broker.available, for /healthz. */
  available(): boolean {
    return this.healthy;
  }

  status(): 'ok' | 'unavailable' {
    return this.healthy ? 'ok' : 'unavailable';
  }

  setListener(listener: BrokerListener): void {
    this.listener = listener;
  }

  async publish(topic: string, input: PublishInput): Promise<PublishResult> {
    const data = input.data ?? null;
    const tail = `,"topic":${JSON.stringify(topic)},"type":${JSON.stringify(input.type)},"data":${JSON.stringify(data)},"time":`;
    const keyed = input.key !== undefined;
    const reply = (await this.evalScript(
      this.scripts?.publish,
      [this.k.meta, this.k.idx, this.k.gone, this.k.stream + topic, keyed ? `${this.k.key}${topic}|${input.key}` : this.k.key],
      [
        newEpoch(this.opts.now()),
        tail,
        String(this.opts.historySize),
        String(this.opts.maxHistories),
        String(this.opts.ttlMs),
        String(this.opts.idempotencyTtlMs),
        keyed ? '1' : '0',
        this.k.channel + topic,
        topic,
        this.k.stream,
      ],
    )) as [number, ...unknown[]];
    if (reply[0] === 1) return { envelope: (JSON.parse(reply[1] as string) as { event: Envelope }).event, duplicate: true };
    const [, seq, epoch, time, histories] = reply as [number, number, string, string, number];
    // The streams the cluster holds, as of this publish (the tick refreshes it too).
    this.histories = Number(histories);
    const envelope: Envelope = { id: formatEventId(epoch, seq), topic, type: input.type, data, time: Number(time) };
    await this.advance(epoch, seq);
    return { envelope, duplicate: false };
  }

  async replay(topics: readonly string[], afterId: string): Promise<ReplayResult> {
    const parsed = parseEventId(afterId);
    const afterSeq = parsed?.seq ?? 0;
    // Read with the live link up, and answer only once it has received everything the snapshot
    // holds: an event still in flight would otherwise reach a join after it went live, twice.
    await this.untilLive();
    const snap = await this.snapshot(topics, parsed?.epoch ?? '', topics.map(() => afterSeq));
    await this.advance(snap.epoch, snap.seq);
    const resetTopics: string[] = [];
    const frames: string[] = [];
    topics.forEach((topic, i) => {
      const { reset, frames: held } = snap.topics[i]!;
      if (reset || snap.epoch === '') resetTopics.push(topic);
      for (const frame of held) frames.push(frame);
    });
    const events = frames.map((frame) => encodeEvent(envelopeOf(frame), frame));
    if (topics.length > 1) events.sort((a, b) => seqOfFrame(a.ws) - seqOfFrame(b.ws));
    return { events, resetTopics };
  }

  async history(topic: string, limit: number, beforeId?: string): Promise<HistoryPage> {
    const parsed = beforeId === undefined ? undefined : parseEventId(beforeId);
    const reply = (await this.evalScript(
      this.scripts?.history,
      [this.k.meta, this.k.idx, this.k.gone, this.k.stream + topic],
      [newEpoch(this.opts.now()), beforeId === undefined ? '' : (parsed?.epoch ?? '!'), String(parsed?.seq ?? 0), String(limit), topic],
    )) as (string | number)[];
    const [epoch, seq, reset] = reply as [string, number, number];
    const frames = reply.slice(3) as string[];
    return {
      events: frames.reverse().map(envelopeOf),
      // Redis holds no data yet: this process's position (an epoch of its own, where nothing is held).
      position: epoch === '' ? this.position() : formatEventId(epoch, Number(seq)),
      reset: reset === 1,
    };
  }

  /** Resolves once the subscription is confirmed and position() covers everything before it. */
  watch(topic: string): Promise<void> {
    if (this.watched.has(topic)) return this.ops.get(topic) ?? Promise.resolve();
    const watch: Watch = { seen: 0, arming: true };
    this.watched.set(topic, watch);
    return this.serial(topic, () => this.arm(topic, watch));
  }

  unwatch(topic: string): Promise<void> {
    this.watched.delete(topic);
    return this.serial(topic, async () => {
      const sub = this.sub;
      if (this.watched.has(topic) || !sub || !this.live) return;
      await this.within(sub.client.unsubscribe(this.k.channel + topic, sub.listener), 'UNSUBSCRIBE').catch(() => {});
    });
  }

  position(): string {
    return formatEventId(this.epoch, this.seq);
  }

  compareIds(a: string, b: string): number {
    return compareEventIds(a, b);
  }

  /** Streams in the cluster's index (refreshed every pingIntervalMs). Bytes: 0, as this process
   *  holds no history; Redis's own INFO memory tells what the streams cost. */
  historyStats(): HistoryStats {
    return { histories: this.histories, bytes: 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listener = () => {};
    this.presence.close();
    clearInterval(this.tickTimer);
    clearTimeout(this.subTimer);
    clearTimeout(this.mainTimer);
    this.sub?.client.destroy();
    this.sub = undefined;
    this.live = false;
    for (const wake of this.liveWaiters.splice(0)) wake();
    for (const wake of this.barrierWaiters.splice(0)) wake();
    const main = this.main;
    if (!main) return;
    try {
      await this.within(main.close(), 'close');
    } catch {
      try {
        main.destroy();
      } catch {
        // Never connected, or already closed.
      }
    }
  }

  // --- Sentinel mode: connections open where the Sentinels say the master is ----------------

  /** A client on the master, not yet connected: REDIS_URL's, or the one the Sentinels name. */
  private async nodeClient(): Promise<Conn> {
    const socket = { connectTimeout: this.opts.commandTimeoutMs, reconnectStrategy: false as const };
    if (!this.locator) return this.main!.duplicate({ disableOfflineQueue: true, socket });
    const { host, port } = await this.locator.locate();
    const { username, password } = this.opts.sentinel!;
    return createClient({
      ...(username !== undefined && { username }),
      ...(password !== undefined && { password }),
      disableOfflineQueue: true,
      commandsQueueMaxLength: 10_000,
      socket: { ...socket, host, port },
    }) as unknown as Conn;
  }

  /** A Sentinel can lag behind a failover: a connection on a server that is no master is closed. */
  private async checkMaster(client: Conn): Promise<void> {
    if (!this.locator) return;
    const role = (await this.within(client.sendCommand(['ROLE']), 'ROLE')) as unknown[];
    if (role[0] !== 'master') throw new BrokerUnavailableError(`the server the Sentinels named for ${this.locator.masterName} is a ${String(role[0])}`);
  }

  /** (Re)opens the command connection on the current master; on loss, asks the Sentinels again. */
  private startMain(): void {
    this.mainTimer = undefined;
    if (this.closed) return;
    let gone = false;
    let client: Conn | undefined;
    const lost = () => {
      if (gone) return;
      gone = true;
      if (client && this.main === client) this.main = undefined;
      try {
        client?.destroy();
      } catch {
        // Already gone.
      }
      if (this.closed) return;
      this.mainTimer = setTimeout(() => this.startMain(), this.retryDelay(this.mainAttempts++));
      unref(this.mainTimer);
    };
    this.dropMain = lost;
    void (async () => {
      client = await this.nodeClient();
      client.on('error', lost);
      client.on('end', lost);
      await this.within(client.connect(), 'connect');
      await this.checkMaster(client);
      if (gone || this.closed) return lost();
      this.main = client;
      this.mainAttempts = 0;
      for (const wake of this.liveWaiters.splice(0)) wake();
      // The master is found: a subscriber waiting out its backoff need not wait any longer.
      if (this.subTimer !== undefined) {
        clearTimeout(this.subTimer);
        this.startSubscriber();
      }
    })().catch(lost);
  }

  /** A failover demoted the server under a connection (READONLY): both reconnect via the Sentinels. */
  private masterMoved(): void {
    if (!this.locator) return;
    this.dropMain?.();
    if (this.sub) this.subscriberLost(this.sub);
  }

  private retryDelay(attempt: number): number {
    // Sentinel mode retries sooner: the Sentinels answer where the master is now.
    return Math.min(50 * 2 ** attempt, this.locator ? 1_000 : 2_000) + Math.floor(Math.random() * 100);
  }

  // --- commands -----------------------------------------------------------------------------

  /** Races a Redis call with commandTimeoutMs; every failure to reach Redis becomes unavailable. */
  private async within<T>(promise: Promise<T>, what: string): Promise<T> {
    promise.catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new BrokerUnavailableError(`Redis did not answer ${what} within ${this.opts.commandTimeoutMs} ms`)),
        this.opts.commandTimeoutMs,
      );
    });
    try {
      return await Promise.race([promise, timeout]);
    } catch (error) {
      if (error instanceof BrokerUnavailableError) throw error;
      if (error instanceof ErrorReply && !TRANSIENT_REPLY.test(error.message)) throw error;
      throw new BrokerUnavailableError(`Redis unavailable (${what}): ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  private async command(args: string[], what: string): Promise<unknown> {
    if (this.closed) throw new BrokerUnavailableError('broker closed');
    const main = this.main;
    if (!main) throw new BrokerUnavailableError(`Redis unavailable (${what}): looking for the master of ${this.locator?.masterName}`);
    try {
      const reply = await this.within(main.sendCommand(args), what);
      this.stalled = false;
      return reply;
    } catch (error) {
      if (error instanceof BrokerUnavailableError && error.cause instanceof ErrorReply && error.cause.message.startsWith('READONLY')) this.masterMoved();
      // Connected but not answering in time (paused, overloaded): unhealthy until the next answer.
      else if (error instanceof BrokerUnavailableError && main.isReady) this.stalled = true;
      throw error;
    }
  }

  /** EVALSHA, falling back to EVAL (which also caches it) when Redis lost its script cache. */
  private async evalScript(script: Script | undefined, keys: string[], args: string[]): Promise<unknown> {
    if (!script) throw new BrokerUnavailableError('RedisBroker.connect() was not called');
    const rest = [String(keys.length), ...keys, ...args];
    try {
      return await this.command(['EVALSHA', script.sha, ...rest], 'EVALSHA');
    } catch (error) {
      if (!(error instanceof ErrorReply) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.command(['EVAL', script.body, ...rest], 'EVAL');
    }
  }

  private async snapshot(topics: readonly string[], idEpoch: string, afterSeqs: number[]): Promise<Snapshot> {
    const args = [newEpoch(this.opts.now()), idEpoch];
    topics.forEach((topic, i) => args.push(topic, String(afterSeqs[i])));
    const reply = (await this.evalScript(
      this.scripts?.replay,
      [this.k.meta, this.k.idx, this.k.gone, ...topics.map((t) => this.k.stream + t)],
      args,
    )) as (string | number)[];
    const snap: Snapshot = { epoch: reply[0] as string, seq: Number(reply[1]), inherited: Number(reply[2]), topics: [] };
    let at = 3;
    for (let i = 0; i < topics.length; i++) {
      if (snap.epoch === '') {
        snap.topics.push({ reset: true, frames: [] });
        continue;
      }
      const reset = reply[at++] === 1;
      const count = Number(reply[at++]);
      snap.topics.push({ reset, frames: reply.slice(at, at + count) as string[] });
      at += count;
    }
    return snap;
  }

  private async readMeta(): Promise<{ epoch: string; seq: number }> {
    const [epoch, seq, histories] = (await this.evalScript(this.scripts?.meta, [this.k.meta, this.k.idx, this.k.gone], [
      newEpoch(this.opts.now()),
      this.k.stream,
    ])) as [string, string, number];
    this.histories = Number(histories);
    return { epoch, seq: Number(seq) };
  }

  // --- position -----------------------------------------------------------------------------

  /**
   * Moves position to a seq read on the command connection once the subscriber has caught up (one
   * PING per round, shared by every caller meanwhile). Resolves then, or at once if the subscriber
   * is down: a publish resolves after its event reached the listener, as with MemoryBroker, and a
   * replay after every event it returns did.
   */
  private advance(epoch: string, seq: number): Promise<void> {
    if (epoch === '' || (epoch === this.epoch && seq <= this.seq) || !this.sub || !this.live) return Promise.resolve();
    if (!this.target || this.target.epoch !== epoch || this.target.seq < seq) this.target = { epoch, seq };
    const done = new Promise<void>((resolve) => this.barrierWaiters.push(resolve));
    if (!this.barrierRunning) void this.runBarriers();
    return done;
  }

  private async runBarriers(): Promise<void> {
    this.barrierRunning = true;
    while (this.target && !this.closed) {
      const target = this.target;
      const waiters = this.barrierWaiters.splice(0);
      this.target = undefined;
      const sub = this.sub;
      try {
        if (sub && this.live) {
          await this.within(sub.client.ping(), 'PING');
          if (sub === this.sub && this.live) this.applyPosition(target.epoch, target.seq);
        }
      } catch {
        // The subscriber is down: position stays where it is until the refill moves it.
        // Callers that arrived during this round are released too: another PING on the link that
        // just failed would hold their answer a second commandTimeoutMs (a publish Redis ran just
        // before a pause was answered after twice the timeout).
        if (sub === this.sub) {
          this.target = undefined;
          for (const wake of this.barrierWaiters.splice(0)) wake();
        }
      }
      for (const wake of waiters) wake();
    }
    this.barrierRunning = false;
  }

  /** Another epoch is placed by a snapshot (resync), which tells whether it succeeded ours. */
  private applyPosition(epoch: string, seq: number): void {
    if (epoch === this.epoch) {
      if (seq > this.seq) this.seq = seq;
    } else if (!this.retired.has(epoch)) {
      this.resync();
    }
  }

  /** Redis started a new epoch (its data was lost): seqs of the old one mean nothing now. */
  private adopt(epoch: string): void {
    this.retired.add(this.epoch);
    this.epoch = epoch;
    this.seq = 0;
    for (const watch of this.watched.values()) watch.seen = 0;
  }

  /**
   * Another server took over the data (a failover) and succeeded our epoch: the sequence goes on,
   * and seqs of ours up to `end` name the same events under either epoch. Anything beyond `end`
   * was lost with the old server; the refill resets the topics that had delivered such events.
   */
  private succeed(epoch: string, end: number): void {
    this.retired.add(this.epoch);
    this.epoch = epoch;
    if (this.seq > end) this.seq = end;
    for (const watch of this.watched.values()) if (watch.seen > end) watch.seen = end;
  }

  /**
   * The data's epoch changed under a live subscriber (a failover without a disconnect, FLUSHALL):
   * live frames wait while one snapshot tells whether the new epoch succeeded ours (go on) or not
   * (every watched topic gets onGap), as after a reconnect.
   */
  private resync(): void {
    const sub = this.sub;
    if (!sub || !this.live) return;
    this.live = false;
    const topics = [...this.watched].filter(([, w]) => !w.arming).map(([t]) => t);
    this.refill(sub, topics).catch(() => this.subscriberLost(sub));
  }

  // --- presence channels --------------------------------------------------------------------

  /** Subscribes a presence channel on the subscriber connection (and on every later one). */
  private async subscribeChannel(channel: string, listener: (message: string) => void): Promise<void> {
    this.presenceChannels.set(channel, listener);
    const sub = await this.within(this.untilLive(), 'SUBSCRIBE');
    await this.within(sub.client.subscribe(channel, listener), 'SUBSCRIBE');
  }

  private async unsubscribeChannel(channel: string, listener: (message: string) => void): Promise<void> {
    if (this.presenceChannels.get(channel) === listener) this.presenceChannels.delete(channel);
    const sub = this.sub;
    if (!sub || !this.live) return;
    await this.within(sub.client.unsubscribe(channel, listener), 'UNSUBSCRIBE').catch(() => {});
  }

  // --- live delivery ------------------------------------------------------------------------

  private serial(topic: string, op: () => Promise<void>): Promise<void> {
    const previous = this.ops.get(topic) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(op);
    this.ops.set(topic, next);
    const clear = () => {
      if (this.ops.get(topic) === next) this.ops.delete(topic);
    };
    next.then(clear, clear);
    return next;
  }

  private async arm(topic: string, watch: Watch): Promise<void> {
    if (this.watched.get(topic) !== watch) return;
    try {
      const sub = await this.untilLive();
      await this.within(sub.client.subscribe(this.k.channel + topic, sub.listener), 'SUBSCRIBE');
      const meta = await this.readMeta();
      // Everything published before the meta read reaches this connection before the PONG.
      await this.within(sub.client.ping(), 'PING');
      if (sub !== this.sub || !this.live) throw new BrokerUnavailableError('Redis subscriber reconnected while subscribing');
      if (this.watched.get(topic) !== watch) return;
      this.applyPosition(meta.epoch, meta.seq);
      if (meta.epoch === this.epoch && meta.seq > watch.seen) watch.seen = meta.seq;
      watch.arming = false;
    } catch (error) {
      if (this.watched.get(topic) === watch) this.watched.delete(topic);
      throw error;
    }
  }

  /** The live subscriber, waiting for a reconnect in progress (bounded by the caller's within). */
  private async untilLive(withMain = false): Promise<Subscriber> {
    const deadline = Date.now() + this.opts.commandTimeoutMs;
    // In Sentinel mode the command connection comes up on its own, found the same way.
    const mainDown = () => withMain && !!this.locator && !this.main?.isReady;
    while (!this.closed && (!(this.sub && this.live) || mainDown())) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.liveWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (this.closed || !this.sub || !this.live) throw new BrokerUnavailableError('Redis subscriber is not connected');
    return this.sub;
  }

  /** (Re)creates the one subscriber connection: subscribe every watched topic, then refill. */
  private startSubscriber(): void {
    this.subTimer = undefined;
    if (this.closed) return;
    // Reconnection is ours: a fresh connection every time, never a silently stale one (Bun), and
    // in Sentinel mode on the server the Sentinels name now.
    this.nodeClient().then(
      (client) => this.subscribeOn(client),
      () => this.retrySubscriber(),
    );
  }

  private subscribeOn(client: Conn): void {
    if (this.closed) return;
    const sub: Subscriber = {
      client,
      listener: (frame, channel) => {
        if (sub !== this.sub) return;
        const topic = channel.slice(this.k.channel.length);
        if (this.live) this.deliver(topic, frame);
        else this.queue.push([topic, frame]);
      },
    };
    this.sub = sub;
    this.live = false;
    this.queue = [];
    const lost = () => this.subscriberLost(sub);
    client.on('error', lost);
    client.on('end', lost);
    void (async () => {
      await this.within(client.connect(), 'connect');
      await this.checkMaster(client);
      // The master is found: a command connection waiting out its backoff need not wait any longer.
      if (this.mainTimer !== undefined) {
        clearTimeout(this.mainTimer);
        this.startMain();
      }
      const topics = [...this.watched].filter(([, w]) => !w.arming).map(([t]) => t);
      if (topics.length > 0) await this.within(client.subscribe(topics.map((t) => this.k.channel + t), sub.listener), 'SUBSCRIBE');
      for (const [channel, listener] of this.presenceChannels) await this.within(client.subscribe(channel, listener), 'SUBSCRIBE');
      await this.refill(sub, topics);
    })().catch(lost);
  }

  private subscriberLost(sub: Subscriber): void {
    if (sub !== this.sub || this.closed) return;
    this.sub = undefined;
    this.live = false;
    this.queue = [];
    try {
      sub.client.destroy();
    } catch {
      // Already gone.
    }
    this.retrySubscriber();
  }

  private retrySubscriber(): void {
    if (this.closed) return;
    this.subTimer = setTimeout(() => this.startSubscriber(), this.retryDelay(this.subAttempts++));
    unref(this.subTimer);
  }

  /**
   * After (re)subscribing: one snapshot of every watched topic since the last event delivered,
   * delivered in seq order, then the frames queued meanwhile. Every event is in the snapshot or
   * arrives on the new connection (it subscribed first), and `seen` drops the overlap.
   */
  private async refill(sub: Subscriber, topics: string[]): Promise<void> {
    const watches = topics.map((t) => this.watched.get(t));
    let snap = await this.snapshot(topics, this.epoch, watches.map((w) => w?.seen ?? 0));
    if (snap.epoch === '') {
      const meta = await this.readMeta();
      snap = { ...meta, inherited: -1, topics: topics.map(() => ({ reset: true, frames: [] })) };
    }
    if (sub !== this.sub) return;
    if (snap.epoch !== this.epoch) {
      if (snap.inherited >= 0) this.succeed(snap.epoch, snap.inherited);
      else this.adopt(snap.epoch);
    }
    if (snap.seq > this.seq) this.seq = snap.seq;
    const gaps: string[] = [];
    const frames: [string, string][] = [];
    topics.forEach((topic, i) => {
      const watch = watches[i];
      if (!watch || this.watched.get(topic) !== watch) return;
      const { reset, frames: held } = snap.topics[i]!;
      if (reset) gaps.push(topic);
      else for (const frame of held) frames.push([topic, frame]);
    });
    // Gapped topics get nothing more until their subscribers are gone: they must resume.
    if (gaps.length > 0) this.opts.onGap?.(gaps);
    frames.sort((a, b) => seqOfFrame(a[1]) - seqOfFrame(b[1]));
    // The snapshot's frames may carry the ids of epochs the current one succeeded: all are current.
    for (const [topic, frame] of frames) this.deliver(topic, frame, true);
    topics.forEach((topic, i) => {
      const watch = watches[i];
      if (watch && this.watched.get(topic) === watch && watch.seen < snap.seq) watch.seen = snap.seq;
    });
    this.live = true;
    this.subAttempts = 0;
    // A frame of a newer epoch among them starts another refill: the rest wait for it.
    for (const [topic, frame] of this.queue.splice(0)) {
      if (this.live) this.deliver(topic, frame);
      else this.queue.push([topic, frame]);
    }
    for (const wake of this.liveWaiters.splice(0)) wake();
  }

  /** Hands one frame to the listener, once: parsed once, never re-stringified. */
  private deliver(topic: string, frame: string, fromSnapshot = false): void {
    const watch = this.watched.get(topic);
    if (!watch) return;
    let envelope: Envelope;
    try {
      envelope = envelopeOf(frame);
    } catch {
      return;
    }
    const id = parseEventId(envelope.id);
    if (!id) return;
    if (id.epoch !== this.epoch && !fromSnapshot) {
      // Late frames of an epoch left behind are stale; a newer one must be placed by a snapshot.
      if (this.retired.has(id.epoch) || id.epoch < this.epoch) return;
      if (this.live) this.resync();
      this.queue.push([topic, frame]);
      return;
    }
    if (id.seq <= watch.seen) return;
    watch.seen = id.seq;
    if (id.seq > this.seq) this.seq = id.seq;
    this.listener(encodeEvent(envelope, frame));
  }

  /** Every pingIntervalMs: liveness of the subscriber, and position and stats refreshed. */
  private async tick(): Promise<void> {
    if (this.closed) return;
    const meta = await this.readMeta().catch(() => undefined);
    const sub = this.sub;
    if (!sub || !this.live) return;
    try {
      await this.within(sub.client.ping(), 'PING');
    } catch {
      this.subscriberLost(sub); // Connected but not answering: replace it.
      return;
    }
    if (meta && sub === this.sub && this.live) this.applyPosition(meta.epoch, meta.seq);
  }
}

function envelopeOf(frame: string): Envelope {
  return (JSON.parse(frame) as { event: Envelope }).event;
}

const ID_AT = '{"type":"event","event":{"id":"'.length;

/** The seq of a stored frame without parsing it: its id comes first (see the publish script). */
function seqOfFrame(frame: string): number {
  const id = frame.slice(ID_AT, frame.indexOf('"', ID_AT));
  return Number(id.slice(id.lastIndexOf('-') + 1));
}
