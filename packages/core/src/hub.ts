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

/** What a join hands over, in the order the connection must send it before going live. */
export interface JoinOutcome {
  /** The broker position when the join took effect (the SSE reset's `id:`, the poll cursor). */
  position: string;
  /** Topics whose history no longer reaches back to the requested id. */
  resetTopics: string[];
  /** Replayed then buffered events, oldest first, without duplicates. */
  backlog: EncodedEvent[];
}

/**
 * Sends a join's outcome and returns the topics to take live (those still wanted: a topic left
 * while the join was pending is not). Runs synchronously, in the turn that goes live.
 */
export type Handover = (outcome: JoinOutcome) => readonly string[];

interface PendingJoin {
  topics: ReadonlySet<string>;
  buffer: EncodedEvent[];
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
  private readonly pending = new Set<PendingJoin>();

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
   * Subscribes `subscriber` to `topics` (which it must not hold yet). Once the broker has answered,
   * `handover` sends the outcome and the topics it returns join the fan-out in the same synchronous
   * turn, so no event can fall between history and live. Leaving a topic while its join is pending
   * is done with `leave`, as for a live one. Returns false if the subscriber closed meanwhile; if
   * the broker fails, the topics are released and the error is thrown.
   */
  async join(subscriber: S, topics: readonly string[], lastEventId: string | undefined, handover: Handover): Promise<boolean> {
    const join: PendingJoin = { topics: new Set(topics), buffer: [] };
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
      for (const topic of topics) this.release(topic);
      throw error;
    } finally {
      this.pending.delete(join);
    }
    // A subscriber that closed meanwhile already released its topics through leave().
    if (subscriber.closed) return false;
    const backlog = replayed.map(encodeEvent);
    let newest = replayed.length > 0 ? replayed[replayed.length - 1]!.id : undefined;
    for (const event of join.buffer) {
      if (newest !== undefined && this.broker.compareIds(event.envelope.id, newest) <= 0) continue;
      backlog.push(event);
      newest = event.envelope.id;
    }
    for (const topic of handover({ position, resetTopics, backlog })) this.fanout.join(topic, subscriber);
    return true;
  }

  leave(subscriber: S, topic: string): void {
    this.fanout.leave(topic, subscriber);
    this.release(topic);
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
