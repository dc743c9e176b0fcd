import type { Envelope, EventInput } from './envelope.js';
import type { PresenceMember } from './presence.js';
import type { EncodedEvent } from './transport.js';

export interface PublishInput extends EventInput {
  key?: string | undefined;
}

export interface PublishResult {
  envelope: Envelope;
  /** True when `key` was already seen within the topic's history: nothing was delivered again. */
  duplicate: boolean;
}

export interface ReplayResult {
  /** Events after the requested id on the requested topics, oldest first, merged by id. */
  events: EncodedEvent[];
  /** Topics for which events after the requested id are no longer (or never were) held. */
  resetTopics: string[];
}

/** A page of one topic's history, as `Broker.history` reads it. */
export interface HistoryPage {
  /** The newest held events before the requested id (or before now), oldest first, at most `limit`. */
  events: Envelope[];
  /** The broker position at the read: the events returned plus a resume from it miss nothing. */
  position: string;
  /**
   * True when the page is short of `limit` and events of the topic older than it may have left the
   * history, or when `beforeId` cannot be interpreted (then `events` is empty).
   */
  reset: boolean;
}

/**
 * Receives every event published on the topics the listener's owner watches, in id order, encoded
 * once by the broker (which had to serialise it anyway to store or send it).
 */
export type BrokerListener = (event: EncodedEvent) => void;

/** What a broker's histories hold in this process, for /metrics. */
export interface HistoryStats {
  histories: number;
  /** Bytes of envelope JSON held. */
  bytes: number;
}

/** A join or a leave as a presence store reports it, with the topic's member count after it. */
export type PresenceListener = (topic: string, action: 'join' | 'leave', member: PresenceMember, count: number) => void;

/**
 * Who holds each topic, for this process (in memory) or for the whole cluster (Redis). Members are
 * added and removed by the process that holds the connection; every process that watches a topic
 * hears its joins and leaves, its own included, once each.
 */
export interface PresenceStore {
  add(topic: string, member: PresenceMember): Promise<void>;
  remove(topic: string, connectionId: string): Promise<void>;
  /** The topic's live members, oldest first. */
  members(topic: string): Promise<PresenceMember[]>;
  /** Start hearing a topic's joins and leaves (idempotent per topic). */
  watch(topic: string): Promise<void>;
  unwatch(topic: string): Promise<void>;
  setListener(listener: PresenceListener): void;
}

/**
 * Where events get their ids, their history and their way to every server process. All methods
 * are asynchronous so that a networked broker (Redis) fits the same shape as the in-memory one.
 *
 * Guarantees a hub relies on: ids are totally ordered across topics (`compareIds`); the listener
 * sees each event of a watched topic once, in id order; an event published after `watch` resolves
 * reaches the listener; `replay` sees every event the listener has seen.
 */
export interface Broker {
  /** Assigns the id and time, stores the event in history, and hands it to the listener. */
  publish(topic: string, input: PublishInput): Promise<PublishResult>;
  /**
   * Events after `afterId` on `topics`. An `afterId` older than the history held, or one this
   * broker cannot interpret (another epoch, malformed, in the future), puts the topic in
   * `resetTopics` and returns all that is still held for it.
   */
  replay(topics: readonly string[], afterId: string): Promise<ReplayResult>;
  /**
   * One topic's newest held events before `beforeId` (before now when absent), for a page to render
   * before going live. A `beforeId` this broker cannot interpret (another epoch, malformed, in the
   * future) gives no events and `reset`.
   */
  history(topic: string, limit: number, beforeId?: string): Promise<HistoryPage>;
  /** Start receiving a topic's events (idempotent per topic). */
  watch(topic: string): Promise<void>;
  unwatch(topic: string): Promise<void>;
  /** The id of the newest event of any topic, or the epoch's zero position when there is none. */
  position(): string;
  /** Negative, zero or positive as `a` is before, equal to or after `b`; both must be valid ids. */
  compareIds(a: string, b: string): number;
  historyStats(): HistoryStats;
  /**
   * Connects a networked broker; it keeps retrying in the background after a rejection, so the
   * server runs (degraded) until the broker is back. Absent for the in-memory broker.
   */
  connect?(): Promise<void>;
  /** Whether the broker is reachable now (absent: always, as in memory); /healthz reports it. */
  available?(): boolean;
  /** Presence: who holds each topic, as far as this broker reaches (one process, or the cluster). */
  readonly presence: PresenceStore;
  /** Sets the single listener; the hub owns it. */
  setListener(listener: BrokerListener): void;
  close(): Promise<void>;
}
