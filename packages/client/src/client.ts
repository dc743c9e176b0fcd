import type { Envelope, PresenceChange, PresenceResponse, ResetCode } from '@relaykit/contracts';
import { type BackoffOptions, backoffDelay } from './backoff.js';
import { RelayKitError, errorFromResponse, minimumWaitMs } from './errors.js';
import { openPoll } from './poll.js';
import { ResumeState } from './resume.js';
import { type TransportOption, TransportSelector, transportCandidates } from './select.js';
import { openEventSource, openSse } from './sse.js';
import { type ResetInfo, type Transport, type TransportContext, type TransportHooks, type TransportKind, authHeaders } from './transport.js';
import { expiryOf, refreshDelay } from './token.js';
import { UrlRotation, clusterUrls } from './urls.js';
import { openWs } from './ws.js';

/** Event type -> data type, for typed handlers and publishes. */
export type EventMap = Record<string, unknown>;

/** One received event, its `data` typed by its `type`. */
export type RelayEvent<E extends EventMap = EventMap> = {
  [K in keyof E & string]: Omit<Envelope, 'type' | 'data'> & { type: K; data: E[K] };
}[keyof E & string];

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'paused' | 'closed';

export interface StateChange {
  state: ConnectionState;
  transport: TransportKind;
  /** The base URL in use (or about to be tried). */
  url: string;
  /** Consecutive failed attempts so far (0 once a connection stayed healthy). */
  attempt: number;
  /** For `reconnecting`: how long until the next attempt. */
  delayMs?: number;
  /** Why the connection ended or changed. */
  reason?: string;
}

export interface TransportChange {
  transport: TransportKind;
  reason: string;
}

/** The server could not resume these topics: events may have been missed (e.g. it restarted). */
export interface ResetNotice {
  code: ResetCode;
  topics: string[];
  transport: TransportKind;
}

export interface ClientEvents<E extends EventMap = EventMap> {
  state: StateChange;
  /** A join or a leave on a subscribed topic (with `presence: true`; WebSocket and SSE, not long polling). */
  presence: PresenceChange;
  transport: TransportChange;
  reset: ResetNotice;
  event: RelayEvent<E>;
  error: RelayKitError;
}

export interface ClientOptions {
  /**
   * Server base URL, e.g. http://localhost:8080, or the URLs of one cluster (instances on one
   * broker): the client starts at a random one and moves to the next on every failure or drop,
   * resuming from the last id; it backs off only once every URL failed in a row. Default: the
   * page's origin.
   */
  url?: string | readonly string[];
  /** 'auto' (SSE, then WebSocket, then long polling), one transport, or an ordered list. */
  transport?: TransportOption;
  /** Bearer token: a header on SSE, publish and polls, `?token=` on WebSocket and EventSource. */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /**
   * Gets a token (takes precedence over `token`): called for every connection, `refreshLeadMs`
   * before the token's `exp` (a WebSocket sends it in a `refresh` frame; SSE and polling reconnect
   * with it and resume from the last id), and at once when the server says `token_expired`.
   */
  getToken?: () => string | undefined | Promise<string | undefined>;
  /** How long before a token's `exp` to get the next one (at most half its remaining life). Default 30000 ms. */
  refreshLeadMs?: number;
  /** Topics to subscribe to from the start. */
  topics?: readonly string[];
  /**
   * Receive the joins and leaves of every subscribed topic as `presence` events (WebSocket and SSE;
   * long polling reads `presence(topic)` only). Default false.
   */
  presence?: boolean;
  /** Use the platform's EventSource for SSE instead of fetch (browsers; see `eventTypes`). */
  nativeEventSource?: boolean;
  /** Event types the native EventSource listens to (besides those given to `onEvent`). */
  eventTypes?: readonly string[];
  backoff?: BackoffOptions;
  /** A connection open this long resets the backoff. Default 5000 ms. */
  healthyMs?: number;
  /** A stream not proven open within this (no opening comment, no welcome) falls back. Default 5000 ms. */
  openTimeoutMs?: number;
  /** Server heartbeat assumed until the server announces or shows one. Default 15000 ms. */
  heartbeatMs?: number;
  /** A connection silent past this many heartbeats is replaced. Default 2. */
  silenceFactor?: number;
  /** Long-poll wait, seconds. Default 25. */
  pollWaitS?: number;
  /** Per-try wait for a publish answer before retrying with the same key. Default 5000 ms. */
  ackTimeoutMs?: number;
  /** Give up a publish after this long. Default 30000 ms. */
  publishTimeoutMs?: number;
  /** Close while the page is hidden; reconnect (and replay what was missed) when visible. */
  pauseWhenHidden?: boolean;
  /** Connect at construction. Default true. */
  autoConnect?: boolean;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
  EventSource?: typeof EventSource;
  /** Randomness for the backoff jitter and the starting URL. Default Math.random. */
  random?: () => number;
}

export interface HistoryOptions {
  /** At most this many events, 1 to the server's HISTORY_SIZE; default 50 (or HISTORY_SIZE if smaller). */
  limit?: number;
  /** Only events older than this id: the first event of the previous page, to page back. */
  before?: string;
}

/** A page of one topic's history (`GET /v1/topics/:topic/history`). */
export interface HistoryPage<E extends EventMap = EventMap> {
  /** Oldest first. */
  events: RelayEvent<E>[];
  /** The server's position when it read the page: `connect({ lastEventId: position })` goes live from it. */
  position: string;
  /** Present when the server no longer holds the topic's older events: the page is not its whole past. */
  reset?: { code: ResetCode; topics: string[] };
}

export interface PublishOptions {
  /** Idempotency key; generated when absent. Every retry of this publish reuses it. */
  key?: string;
}

type Handler<T> = (value: T) => void;

const idle = (): Transport => ({ kind: 'sse', update: () => false, close() {} });

function randomKey(): string {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/**
 * A relaykit connection: one API over SSE, WebSocket and long polling, with reconnect, resume,
 * heartbeat checks and idempotent publishing. See the package README.
 */
export class RelayClient<E extends EventMap = EventMap> {
  private readonly options: ClientOptions;
  private readonly rotation: UrlRotation;
  private readonly resume = new ResumeState();
  private readonly selector: TransportSelector;
  private readonly listeners = new Map<string, Set<Handler<never>>>();
  private readonly topicHandlers = new Map<string, Set<Handler<RelayEvent<E>>>>();
  private readonly typeHandlers = new Map<string, Set<(data: never, event: RelayEvent<E>) => void>>();
  private readonly fetchImpl: typeof fetch;
  private readonly pendingAcks = new Map<number, { resolve(id: string): void; reject(error: RelayKitError): void }>();
  private nextRef = 0;

  private topicsWanted = new Set<string>();
  /** Topics the live connection holds. */
  private topicsLive = new Set<string>();
  private transportImpl: Transport | undefined;
  private generation = 0;
  private opened = false;
  private attempt = 0;
  private heartbeatMs: number;
  private timers: Partial<Record<'retry' | 'open' | 'healthy' | 'silence' | 'refresh', ReturnType<typeof setTimeout>>> = {};
  /** The token the live connection uses, and its exp (ms). */
  private currentToken: string | undefined;
  private tokenExpiresAt: number | undefined;
  /** Set by a token_expired reconnect, cleared once a connection opens: a second one in a row backs off. */
  private expiredRetry = false;
  private flushQueued = false;
  private stopped = true;
  private paused = false;
  private removeVisibility: (() => void) | undefined;

  state: ConnectionState = 'idle';

  constructor(options: ClientOptions = {}) {
    this.options = options;
    const origin = (globalThis as { location?: { origin?: string } }).location?.origin;
    this.rotation = new UrlRotation(clusterUrls(options.url, origin), options.random ?? Math.random);
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    const transport = options.transport ?? 'auto';
    this.selector = new TransportSelector(
      transportCandidates(transport, {
        sse: options.nativeEventSource ? typeof (options.EventSource ?? globalThis.EventSource) === 'function' : typeof ReadableStream === 'function',
        ws: typeof (options.WebSocket ?? globalThis.WebSocket) === 'function',
        poll: true,
      }),
      transport !== 'auto',
    );
    for (const topic of options.topics ?? []) this.addTopic(topic);
    if (options.pauseWhenHidden) this.watchVisibility();
    if (options.autoConnect !== false) this.connect();
  }

  /** The base URL in use (or about to be tried). */
  get url(): string {
    return this.rotation.current;
  }

  /** Every base URL given, in the order given. */
  get urls(): readonly string[] {
    return this.rotation.urls;
  }

  /** The transport in use (or about to be tried). */
  get transport(): TransportKind {
    return this.selector.current;
  }

  /** Why that transport: the option, or the fallback that led to it. */
  get transportReason(): string {
    return this.selector.reason;
  }

  /** Id of the last event received; reconnects resume after it. */
  get lastEventId(): string | undefined {
    return this.resume.lastId;
  }

  get topics(): string[] {
    return [...this.topicsWanted];
  }

  on<K extends keyof ClientEvents<E>>(name: K, handler: Handler<ClientEvents<E>[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(handler as Handler<never>);
    return () => set.delete(handler as Handler<never>);
  }

  /** Typed handler for one event type, on whatever topics are subscribed. */
  onEvent<K extends keyof E & string>(type: K, handler: (data: E[K], event: RelayEvent<E>) => void): () => void {
    let set = this.typeHandlers.get(type);
    if (!set) this.typeHandlers.set(type, (set = new Set()));
    set.add(handler as (data: never, event: RelayEvent<E>) => void);
    return () => set.delete(handler as (data: never, event: RelayEvent<E>) => void);
  }

  /**
   * Subscribes to topics (live from now; after a drop, resumed from the last event seen). The
   * returned function unsubscribes the handler, and the topics once no handler holds them.
   */
  subscribe(topics: string | readonly string[], handler?: Handler<RelayEvent<E>>): () => void {
    const list = typeof topics === 'string' ? [topics] : [...topics];
    const fn = handler ?? (() => {});
    for (const topic of list) {
      let set = this.topicHandlers.get(topic);
      if (!set) this.topicHandlers.set(topic, (set = new Set()));
      set.add(fn);
      this.addTopic(topic);
    }
    return () => {
      for (const topic of list) {
        const set = this.topicHandlers.get(topic);
        set?.delete(fn);
        if (set && set.size === 0) this.unsubscribe(topic);
      }
    };
  }

  /** Drops topics and all their handlers. */
  unsubscribe(topics: string | readonly string[]): void {
    for (const topic of typeof topics === 'string' ? [topics] : topics) {
      this.topicHandlers.delete(topic);
      if (this.topicsWanted.delete(topic)) {
        this.resume.forgetTopic(topic);
        this.queueFlush();
      }
    }
  }

  /**
   * Publishes one event. Resolves with its id once the server has stored it; rejects with the
   * server's error (RelayKitError with its code). A lost answer is retried with the same key, so
   * the event is stored once whatever happens to the connection.
   */
  async publish<K extends keyof E & string>(topic: string, type: K, data: E[K], options: PublishOptions = {}): Promise<string> {
    const key = options.key ?? randomKey();
    return this.retrying('publish not acknowledged', (url) => this.publishOnce(topic, type, data, key, url));
  }

  /**
   * Reads a page of a topic's history over HTTP: its newest held events before `before` (or before
   * now), oldest first. To render history and then go live with nothing missed or doubled, read it
   * before connecting and pass its `position` to `connect({ lastEventId })`. Retried on the next URL
   * like a publish; rejects with the server's error (e.g. `forbidden`).
   */
  async history(topic: string, options: HistoryOptions = {}): Promise<HistoryPage<E>> {
    return this.retrying('history not read', async (url) => {
      const query = new URLSearchParams();
      if (options.limit !== undefined) query.set('limit', String(options.limit));
      if (options.before !== undefined) query.set('before', options.before);
      const token = await this.token();
      let response: Response;
      try {
        response = await this.fetchImpl(`${url}/v1/topics/${encodeURIComponent(topic)}/history${query.size ? `?${query}` : ''}`, {
          headers: authHeaders(token),
          signal: AbortSignal.timeout(this.options.ackTimeoutMs ?? 5_000),
        });
      } catch (error) {
        throw new RelayKitError('network', `history failed: ${String((error as Error)?.message ?? error)}`);
      }
      if (!response.ok) throw await errorFromResponse(response);
      const body = (await response.json()) as Partial<HistoryPage<E>>;
      if (!Array.isArray(body.events) || typeof body.position !== 'string') throw new RelayKitError('bad_response', 'history answer has no events or position');
      return body as HistoryPage<E>;
    });
  }

  /**
   * Who holds a topic now (`GET /v1/topics/:topic/presence`): its members, their count and the
   * number of distinct users. Retried on the next URL like a publish.
   */
  async presence(topic: string): Promise<PresenceResponse> {
    return this.retrying('presence not read', async (url) => {
      const token = await this.token();
      let response: Response;
      try {
        response = await this.fetchImpl(`${url}/v1/topics/${encodeURIComponent(topic)}/presence`, {
          headers: authHeaders(token),
          signal: AbortSignal.timeout(this.options.ackTimeoutMs ?? 5_000),
        });
      } catch (error) {
        throw new RelayKitError('network', `presence failed: ${String((error as Error)?.message ?? error)}`);
      }
      if (!response.ok) throw await errorFromResponse(response);
      const body = (await response.json()) as Partial<PresenceResponse>;
      if (!Array.isArray(body.members) || typeof body.count !== 'number') throw new RelayKitError('bad_response', 'presence answer has no members or count');
      return body as PresenceResponse;
    });
  }

  /**
   * Runs `once` on the current URL, and on retryable failures again on the next URL (backing off
   * after a full round), until publishTimeoutMs.
   */
  private async retrying<T>(what: string, once: (url: string) => Promise<T>): Promise<T> {
    const deadline = Date.now() + (this.options.publishTimeoutMs ?? 30_000);
    let lastError: RelayKitError | undefined;
    let url = this.url;
    for (let attempt = 1; ; attempt++) {
      if (this.state === 'closed') throw new RelayKitError('closed', 'client closed');
      let failure: RelayKitError;
      try {
        return await once(url);
      } catch (error) {
        failure = error instanceof RelayKitError ? error : new RelayKitError('network', String(error));
        if (!failure.retryable) throw failure;
        if (failure.code === 'token_expired') this.currentToken = undefined; // the retry gets a new one
        lastError = failure;
      }
      // The same request on the next instance: they share one broker (a publish keeps its key, so a stored one is a duplicate).
      url = this.rotation.after(url);
      const round = this.rotation.fullRounds(attempt);
      // Never sooner than the server asked (rate_limited's Retry-After): retrying early is refused again.
      const delay = Math.max(minimumWaitMs(failure), round === 0 ? 0 : backoffDelay(round, { baseMs: 200, maxMs: 5_000 }, this.options.random));
      if (Date.now() + delay > deadline) {
        throw new RelayKitError('timeout', `${what} in time (last error: ${lastError?.message})`);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** Over the open WebSocket if there is one, else over HTTP to `url`. */
  private async publishOnce(topic: string, type: string, data: unknown, key: string, url: string): Promise<string> {
    const ackTimeoutMs = this.options.ackTimeoutMs ?? 5_000;
    const transport = this.transportImpl;
    if (transport?.publish && this.opened) {
      const ref = ++this.nextRef;
      const answer = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pendingAcks.delete(ref);
          reject(new RelayKitError('timeout', 'no ack from the WebSocket'));
        }, ackTimeoutMs);
        this.pendingAcks.set(ref, {
          resolve: (id) => (clearTimeout(timer), resolve(id)),
          reject: (error) => (clearTimeout(timer), reject(error)),
        });
      });
      if (transport.publish(topic, type, data, key, ref)) return answer;
      this.pendingAcks.get(ref)?.reject(new RelayKitError('network', 'WebSocket not open'));
      await answer.catch(() => {});
    }
    // The connection's token while it is good, rather than a getToken call per publish.
    const reuse = this.options.getToken && this.currentToken && (this.tokenExpiresAt ?? Infinity) > Date.now();
    const token = reuse ? this.currentToken : await this.token();
    let response: Response;
    try {
      response = await this.fetchImpl(`${url}/v1/topics/${encodeURIComponent(topic)}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...authHeaders(token) },
        body: JSON.stringify({ type, data, key }),
        signal: AbortSignal.timeout(ackTimeoutMs),
      });
    } catch (error) {
      throw new RelayKitError('network', `publish failed: ${String((error as Error)?.message ?? error)}`);
    }
    if (!response.ok) throw await errorFromResponse(response);
    const body = (await response.json()) as { id?: unknown };
    if (typeof body.id !== 'string') throw new RelayKitError('bad_response', 'publish answer has no id');
    return body.id;
  }

  /**
   * Starts (or restarts after close) connecting. `lastEventId` resumes from that id instead of
   * from the last event received (or from now): a history page's `position`, so that what was
   * published after the page arrives and nothing before it twice. Ignored while connected.
   */
  connect(from: { lastEventId?: string } = {}): void {
    this.stopped = false;
    if (this.transportImpl || this.timers.retry !== undefined) return;
    if (from.lastEventId !== undefined) this.resume.startAt(from.lastEventId);
    this.paused = false;
    this.attempt = 0;
    // Next tick, so handlers attached right after construction see `connecting`.
    this.timers.retry = setTimeout(() => void this.attemptConnection(), 0);
  }

  /** Closes the connection for good (until `connect`). Pending publishes fail with `closed`. */
  close(): void {
    this.stopped = true;
    this.removeVisibility?.();
    this.removeVisibility = undefined;
    this.teardown(new RelayKitError('closed', 'client closed'));
    this.setState('closed', { reason: 'closed by the application' });
  }

  /** Disconnects but keeps the resume position; `resumeConnection` replays what was missed. */
  pause(): void {
    if (this.stopped || this.paused) return;
    this.paused = true;
    this.teardown(new RelayKitError('network', 'paused before the ack')); // retried over HTTP
    this.setState('paused', { reason: 'paused' });
  }

  resumeConnection(): void {
    if (this.stopped || !this.paused) return;
    this.paused = false;
    this.attempt = 0;
    void this.attemptConnection();
  }

  // ---- internals ------------------------------------------------------------------------------

  private emit<K extends keyof ClientEvents<E>>(name: K, value: ClientEvents<E>[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        (handler as Handler<ClientEvents<E>[K]>)(value);
      } catch (error) {
        console.error('relaykit: a handler threw', error);
      }
    }
  }

  private setState(state: ConnectionState, extra: Partial<StateChange> = {}): void {
    this.state = state;
    this.emit('state', { state, transport: this.selector.current, url: this.url, attempt: this.attempt, ...extra });
  }

  private async token(): Promise<string | undefined> {
    const { token, getToken } = this.options;
    if (getToken) return getToken();
    return typeof token === 'function' ? await token() : token;
  }

  /** Arms the one refresh timer of a connection for its token's exp. */
  private scheduleRefresh(generation: number): void {
    clearTimeout(this.timers.refresh);
    const expiresAt = this.tokenExpiresAt;
    // Past exp the server ends the connection itself, and its token_expired gets the next token.
    if (expiresAt === undefined || expiresAt <= Date.now() || !this.options.getToken) return;
    const delay = refreshDelay(expiresAt, Date.now(), this.options.refreshLeadMs ?? 30_000);
    this.timers.refresh = setTimeout(() => void this.refreshToken(generation), Math.min(delay, 2 ** 31 - 1));
  }

  /** WebSocket: a refresh frame on the open connection. SSE and polling: reconnect with the new token, resuming. */
  private async refreshToken(generation: number): Promise<void> {
    const token = await this.token().catch(() => undefined);
    const transport = this.transportImpl;
    // The same token again would change nothing: the server's token_expired at exp asks once more.
    if (generation !== this.generation || !transport || !token || token === this.currentToken) return;
    if (transport.refresh) {
      try {
        const expiresAt = await transport.refresh(token);
        if (generation !== this.generation) return;
        this.currentToken = token;
        this.tokenExpiresAt = expiresAt ?? expiryOf(token);
        this.scheduleRefresh(generation);
        return;
      } catch (error) {
        if (generation !== this.generation) return;
        if (error instanceof RelayKitError) this.emit('error', error);
      }
    }
    this.teardown(new RelayKitError('network', 'reconnecting with a new token'));
    void this.attemptConnection(token);
  }

  private addTopic(topic: string): void {
    if (this.topicsWanted.has(topic)) return;
    this.topicsWanted.add(topic);
    this.resume.addTopic(topic);
    this.queueFlush();
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flushTopics();
    });
  }

  /** Brings the live connection's topics in line with the wanted ones. */
  private flushTopics(): void {
    const transport = this.transportImpl;
    if (!transport || !this.opened) return; // the open hook flushes again
    const added = [...this.topicsWanted].filter((t) => !this.topicsLive.has(t));
    const removed = [...this.topicsLive].filter((t) => !this.topicsWanted.has(t));
    if (added.length === 0 && removed.length === 0) return;
    if (transport.update(added, removed)) {
      this.topicsLive = new Set(this.topicsWanted);
      return;
    }
    // SSE: one stream per topic set; reopen it with the new set, resuming from the last id.
    this.teardown(new RelayKitError('network', 'topics changed'));
    void this.attemptConnection();
  }

  private clearTimers(): void {
    for (const timer of Object.values(this.timers)) clearTimeout(timer);
    this.timers = {};
  }

  private teardown(error: RelayKitError): void {
    this.generation++;
    this.clearTimers();
    this.transportImpl?.close();
    this.transportImpl = undefined;
    this.opened = false;
    for (const pending of this.pendingAcks.values()) pending.reject(error);
    this.pendingAcks.clear();
  }

  private async attemptConnection(fresh?: string): Promise<void> {
    this.timers.retry = undefined;
    if (this.stopped || this.paused) return;
    const generation = ++this.generation;
    const kind = this.selector.current;
    this.setState('connecting');
    const token = fresh ?? (await this.token().catch(() => undefined));
    if (generation !== this.generation) return;
    this.currentToken = token;
    this.tokenExpiresAt = expiryOf(token);
    const topics = [...this.topicsWanted];
    this.topicsLive = new Set(topics);
    const hooks = this.hooks(generation, kind);
    const ctx: TransportContext = {
      baseUrl: this.rotation.current,
      topics,
      resume: this.resume,
      token,
      fetch: this.fetchImpl,
      hooks,
      pollWaitS: this.options.pollWaitS ?? 25,
      presence: this.options.presence ?? false,
      eventTypes: [...new Set([...(this.options.eventTypes ?? []), ...this.typeHandlers.keys()])],
      WebSocket: this.options.WebSocket ?? globalThis.WebSocket,
      EventSource: this.options.EventSource ?? globalThis.EventSource,
    };
    try {
      if (kind === 'sse' && topics.length === 0) {
        // Nothing to stream yet; publishing goes over HTTP. Adding a topic opens the stream.
        this.transportImpl = idle();
        this.opened = true;
        this.setState('open', { reason: 'no topics yet' });
        return;
      }
      this.transportImpl =
        kind === 'ws' ? openWs(ctx) : kind === 'poll' ? openPoll(ctx) : this.options.nativeEventSource ? openEventSource(ctx) : openSse(ctx);
    } catch (error) {
      hooks.closed(error instanceof RelayKitError ? error : new RelayKitError('network', String(error)));
      return;
    }
    if (kind !== 'poll') {
      const openTimeoutMs = this.options.openTimeoutMs ?? 5_000;
      this.timers.open = setTimeout(() => {
        hooks.closed(
          new RelayKitError(
            'open_timeout',
            kind === 'sse'
              ? `no opening comment within ${openTimeoutMs} ms (a proxy buffering the stream?)`
              : `no welcome within ${openTimeoutMs} ms`,
          ),
        );
      }, openTimeoutMs);
    }
  }

  private armSilence(generation: number, kind: TransportKind): void {
    if (kind === 'poll' || this.options.nativeEventSource && kind === 'sse') return;
    clearTimeout(this.timers.silence);
    const limit = this.heartbeatMs * (this.options.silenceFactor ?? 2) + 250;
    this.timers.silence = setTimeout(() => {
      if (generation !== this.generation) return;
      this.hooks(generation, kind).closed(new RelayKitError('timeout', `connection silent for ${limit} ms (heartbeat ${this.heartbeatMs} ms)`));
    }, limit);
  }

  private hooks(generation: number, kind: TransportKind): TransportHooks {
    const live = () => generation === this.generation;
    return {
      open: (info) => {
        if (!live() || this.opened) return;
        this.opened = true;
        clearTimeout(this.timers.open);
        if (info.heartbeatMs) this.heartbeatMs = info.heartbeatMs;
        this.selector.opened(kind);
        const healthyMs = this.options.healthyMs ?? 5_000;
        this.timers.healthy = setTimeout(() => {
          if (live()) this.attempt = 0;
        }, healthyMs);
        this.expiredRetry = false;
        this.setState('open', info.server ? { reason: `server ${info.server}` } : {});
        this.armSilence(generation, kind);
        this.scheduleRefresh(generation);
        this.flushTopics();
      },
      activity: () => {
        if (live() && this.opened) this.armSilence(generation, kind);
      },
      heartbeat: (ms) => {
        if (live() && ms >= 50) {
          this.heartbeatMs = ms;
          if (this.opened) this.armSilence(generation, kind);
        }
      },
      event: (envelope) => {
        if (!live() || !this.topicsWanted.has(envelope.topic)) return;
        if (!this.resume.accept(envelope)) return;
        const event = envelope as RelayEvent<E>;
        this.emit('event', event);
        for (const handler of [...(this.topicHandlers.get(envelope.topic) ?? [])]) this.safely(() => handler(event));
        for (const handler of [...(this.typeHandlers.get(envelope.type) ?? [])]) this.safely(() => handler(envelope.data as never, event));
      },
      presence: (change) => {
        if (live() && this.topicsWanted.has(change.topic)) this.emit('presence', change);
      },
      reset: (reset: ResetInfo) => {
        if (!live()) return;
        this.resume.reset(reset.position, reset.topics);
        this.emit('reset', { code: reset.code, topics: reset.topics, transport: kind });
      },
      error: (error) => {
        if (live()) this.emit('error', error);
      },
      revoked: (topics) => {
        if (!live()) return;
        for (const topic of topics) this.topicsLive.delete(topic);
        this.unsubscribe(topics);
        this.emit('error', new RelayKitError('forbidden', `the new token does not grant ${topics.join(', ')}: unsubscribed`));
      },
      ack: (ref, id) => this.pendingAcks.get(ref)?.resolve(id),
      nack: (ref, error) => this.pendingAcks.get(ref)?.reject(error),
      closed: (error) => {
        if (!live()) return;
        const wasOpen = this.opened;
        this.teardown(new RelayKitError('network', `connection lost before the ack: ${error.message}`));
        if (this.stopped || this.paused) return;
        // The token ran out (4001, SSE token_expired, 401 token_expired): a new one, at once, once.
        if (error.code === 'token_expired' && !this.expiredRetry) {
          this.expiredRetry = true;
          void this.attemptConnection();
          return;
        }
        if (error.code === 'unauthorized' || error.code === 'forbidden' || error.code === 'token_expired' || error.code === 'rate_limited' || error.status === 400) this.emit('error', error);
        // An HTTP answer (401, 403, 503...) means this transport reached the server: switching would not help.
        // Transports fall back on one URL; when none opens there, or the connection was lost, the next URL.
        if (!wasOpen && error.status === undefined) {
          const before = this.selector.current;
          const { switched } = this.selector.failedBeforeOpen(kind, error.message);
          if (this.selector.current !== before) this.emit('transport', { transport: this.selector.current, reason: this.selector.reason });
          if (switched) {
            void this.attemptConnection();
            return;
          }
        }
        this.attempt++;
        this.rotation.advance();
        const round = this.rotation.fullRounds(this.attempt);
        // A refusal for rate (429, close 4029) says when to come back: not before that.
        const delayMs = Math.max(minimumWaitMs(error), round === 0 ? 0 : backoffDelay(round, this.options.backoff, this.options.random));
        this.setState('reconnecting', { delayMs, reason: error.message });
        this.timers.retry = setTimeout(() => void this.attemptConnection(), delayMs);
      },
    };
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      console.error('relaykit: a handler threw', error);
    }
  }

  private watchVisibility(): void {
    const doc = (globalThis as { document?: Document }).document;
    if (!doc) return;
    const onChange = () => (doc.visibilityState === 'hidden' ? this.pause() : this.resumeConnection());
    doc.addEventListener('visibilitychange', onChange);
    this.removeVisibility = () => doc.removeEventListener('visibilitychange', onChange);
  }
}

/** Creates a client; see ClientOptions. */
export function createClient<E extends EventMap = EventMap>(options: ClientOptions = {}): RelayClient<E> {
  return new RelayClient<E>(options);
}
