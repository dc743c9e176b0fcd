import {
  type Broker,
  type EncodedEvent,
  type Envelope,
  type Fanout,
  type Subscriber,
  encodeEvent,
} from '@relaykit/contracts';
import type { Metrics } from './metrics.js';

/** A connection that holds topics: what the hub needs beyond delivering events. */
export interface TopicHolder extends Subscriber {
  readonly closed: boolean;
}

/** What a join tells the connection, in the order the connection must send it. */
export interface JoinOutcome {
  /** The broker position when the join took effect (the SSE reset's `id:`, the poll cursor). */
  position: string;
  /** Topics whose history no longer reaches back to the requested id. */
  resetTopics: string[];
  /** Replayed then buffered events, oldest first, without duplicates: deliver before going live. */
  backlog: EncodedEvent[];
}

interface PendingJoin<S> {
  subscriber: S;
  topics: Set<string>;
  buffer: EncodedEvent[];
  /** join() has answered; live events still buffer here until goLive() (the caller's next microtask may come late). */
  answered: boolean;
}

interface Watch {
  holders: number;
  ready: Promise<void>;
}

/**
 * Routes broker events to local subscribers. Every event is encoded once, then handed to the
 * runtime's fan-out. A join (subscribe, possibly with replay) hands over from history to live with
 * no gap and no duplicate even when the broker answers asynchronously: live events that arrive
 * while history is being read are buffered and merged.
 */
export class Hub<S extends TopicHolder = TopicHolder> {
  private readonly watches = new Map<string, Watch>();
  private readonly pending = new Set<PendingJoin<S>>();
  private readonly answered = new WeakMap<JoinOutcome, PendingJoin<S>>();

  constructor(
    readonly broker: Broker,
    private readonly fanout: Fanout<S>,
    private readonly metrics: Metrics,
  ) {
    broker.setListener((envelope) => this.route(envelope));
  }

  get topicCount(): number {
    return this.watches.size;
  }

  private route(envelope: Envelope): void {
    const event = encodeEvent(envelope);
    if (this.pending.size > 0) {
      for (const join of this.pending) if (join.topics.has(envelope.topic)) join.buffer.push(event);
    }
    this.metrics.delivered += this.fanout.publish(envelope.topic, event);
  }

  /**
   * Prepares `subscriber` to receive `topics` (which it must not hold yet). The caller sends what the
   * outcome says, synchronously, then calls `goLive` with the outcome. Returns undefined if the subscriber
   * closed meanwhile. Leaving a topic while its join is pending is done with `leave`, as for a live one.
   * If the broker fails, the topics are released and the error is thrown.
   *
   * Events routed after the answer but before `goLive` (other connections' microtasks can run in
   * between: on Deno several sockets' messages are dispatched in one microtask checkpoint) stay
   * buffered and are delivered by `goLive`, so the handover has no gap whatever runs in between.
   */
  async join(subscriber: S, topics: readonly string[], lastEventId?: string): Promise<JoinOutcome | undefined> {
    const join: PendingJoin<S> = { subscriber, topics: new Set(topics), buffer: [], answered: false };
    this.pending.add(join);
    let position: string;
    let replayed: Envelope[] = [];
    let resetTopics: string[] = [];
    try {
      await Promise.all(topics.map((topic) => this.retain(topic)));
      position = this.broker.position();
      if (lastEventId !== undefined) {
        const replay = await this.broker.replay(topics, lastEventId);
        replayed = replay.events;
        resetTopics = replay.resetTopics;
      }
    } catch (error) {
      this.pending.delete(join);
      for (const topic of topics) this.release(topic);
      throw error;
    }
    // A subscriber that closed meanwhile already released its topics through leave().
    if (subscriber.closed) {
      this.pending.delete(join);
      return undefined;
    }
    const backlog = replayed.map(encodeEvent);
    let newest = replayed.length > 0 ? replayed[replayed.length - 1]!.id : undefined;
    for (const event of join.buffer) {
      if (newest !== undefined && this.broker.compareIds(event.envelope.id, newest) <= 0) continue;
      backlog.push(event);
      newest = event.envelope.id;
    }
    // Keep buffering (newer events only from here) until goLive() or leave() ends the handover.
    join.buffer = [];
    join.answered = true;
    const outcome: JoinOutcome = { position, resetTopics, backlog };
    this.answered.set(outcome, join);
    return outcome;
  }

  /**
   * Completes a join: delivers what was routed since the join answered, then the fan-out delivers
   * live events. Pass the join's outcome; without it, the subscriber's oldest answered join is taken.
   */
  goLive(subscriber: S, topics: readonly string[], outcome?: JoinOutcome): void {
    const join = outcome ? this.answered.get(outcome) : this.answeredJoinOf(subscriber);
    if (join && this.pending.delete(join)) {
      for (const event of join.buffer) {
        if (!topics.includes(event.envelope.topic)) continue;
        subscriber.deliver(event);
        this.metrics.delivered++;
      }
    }
    for (const topic of topics) this.fanout.join(topic, subscriber);
  }

  leave(subscriber: S, topic: string): void {
    if (this.pending.size > 0) {
      for (const join of this.pending) {
        if (!join.answered || join.subscriber !== subscriber) continue;
        join.topics.delete(topic);
        if (join.topics.size === 0) this.pending.delete(join);
      }
    }
    this.fanout.leave(topic, subscriber);
    this.release(topic);
  }

  private answeredJoinOf(subscriber: S): PendingJoin<S> | undefined {
    for (const join of this.pending) if (join.answered && join.subscriber === subscriber) return join;
    return undefined;
  }

  private retain(topic: string): Promise<void> {
    let watch = this.watches.get(topic);
    if (!watch) {
      watch = { holders: 0, ready: this.broker.watch(topic) };
      this.watches.set(topic, watch);
    }
    watch.holders++;
    return watch.ready;
  }

  private release(topic: string): void {
    const watch = this.watches.get(topic);
    if (!watch) return;
    if (--watch.holders > 0) return;
    this.watches.delete(topic);
    this.broker.unwatch(topic).catch(() => {});
  }
}
