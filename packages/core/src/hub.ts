import type { Broker, EncodedEvent, Fanout, Subscriber } from '@relaykit/contracts';
import type { Metrics } from './metrics.js';

/** A connection that holds topics: what the hub needs beyond delivering events. */
export interface TopicHolder extends Subscriber {
  readonly closed: boolean;
  /**
   * Closes the connection as a slow consumer (4008, or the end of an SSE stream). The hub calls it
   * when live events queued behind a paced replay outgrow MAX_BUFFERED_BYTES.
   */
  dropSlowConsumer?(): void;
}

interface Watch {
  holders: number;
  ready: Promise<void>;
}

/**
 * One subscribe in progress, from the broker's answer until the connection goes live. It hands
 * out the backlog one event at a time (replayed events, then the live ones that arrived since,
 * without duplicates), so a connection can send it as fast as its client reads: a resume of a
 * large history is never encoded or queued whole. Until `goLive`, live events of its topics are
 * buffered here, bounded by MAX_BUFFERED_BYTES like any connection's send buffer.
 */
export class Join<S extends TopicHolder = TopicHolder> {
  /** The broker position when the join took effect (the SSE reset's `id:`, the poll cursor). */
  position = '';
  /** Topics whose history no longer reaches back to the requested id. */
  resetTopics: readonly string[] = [];
  private replayed: (EncodedEvent | undefined)[] = [];
  private replayAt = 0;
  private readonly buffer: EncodedEvent[] = [];
  private bufferAt = 0;
  private bufferedBytes = 0;
  private newestReplayed: string | undefined;
  /** The id resumed from, for topics that are not reset: live events up to it were seen before. */
  private resumedFrom: string | undefined;
  private ended = false;

  constructor(
    private readonly hub: Hub<S>,
    readonly subscriber: S,
    readonly topics: ReadonlySet<string>,
  ) {}

  /** Called by the hub once the broker has answered. */
  answered(position: string, resetTopics: readonly string[], replayed: EncodedEvent[], resumedFrom?: string): void {
    this.position = position;
    this.resetTopics = resetTopics;
    // An id the broker could not interpret resets every topic, so it is never compared.
    this.resumedFrom = resetTopics.length < this.topics.size ? resumedFrom : undefined;
    this.replayed = replayed;
    this.newestReplayed = replayed.length > 0 ? replayed[replayed.length - 1]!.envelope.id : undefined;
  }

  /** Called by the hub for each live event of the join's topics until it goes live. */
  buffered(event: EncodedEvent): void {
    this.buffer.push(event);
    this.bufferedBytes += event.ws.length;
    if (this.bufferedBytes > this.hub.maxBufferedBytes && this.subscriber.dropSlowConsumer) {
      this.end();
      this.subscriber.dropSlowConsumer();
    }
  }

  /**
   * A fresh join's live events that arrived while it waited for the broker and that `position`
   * already counts, taken out of the buffer. They must be sent before the position is announced:
   * announced first, a client cut off before receiving them would resume after them and lose them.
   * The buffer is in id order (the broker delivers in id order), so they are its head.
   */
  takeCounted(): EncodedEvent[] {
    const counted: EncodedEvent[] = [];
    while (this.bufferAt < this.buffer.length) {
      const event = this.buffer[this.bufferAt]!;
      if (this.hub.broker.compareIds(event.envelope.id, this.position) > 0) break;
      this.bufferAt++;
      this.bufferedBytes -= event.ws.length;
      counted.push(event);
    }
    return counted;
  }

  /** The next event to send, oldest first; undefined once caught up. */
  next(): EncodedEvent | undefined {
    if (this.replayAt < this.replayed.length) {
      // Let go of each event as it is handed out: sending flattens its frame into a string of this
      // connection's own, and a paced replay must hold only what is in flight, not all it has sent.
      const event = this.replayed[this.replayAt]!;
      this.replayed[this.replayAt++] = undefined;
      return event;
    }
    while (this.bufferAt < this.buffer.length) {
      const event = this.buffer[this.bufferAt++]!;
      this.bufferedBytes -= event.ws.length;
      // The replay and the buffer overlap where the broker answered after the event arrived; and
      // with a networked broker an event up to the resumed id can still be in flight to this process.
      const { id, topic } = event.envelope;
      if (this.newestReplayed !== undefined && this.hub.broker.compareIds(id, this.newestReplayed) <= 0) continue;
      if (this.resumedFrom !== undefined && !this.resetTopics.includes(topic) && this.hub.broker.compareIds(id, this.resumedFrom) <= 0) continue;
      return event;
    }
    this.buffer.length = 0;
    this.bufferAt = 0;
    return undefined;
  }

  /**
   * Joins the fan-out for `topics` (those still wanted), synchronously, right after `next()`
   * returned undefined: no event can fall between the backlog and live delivery.
   */
  goLive(topics: Iterable<string>): void {
    if (this.ended) return;
    this.end();
    if (this.subscriber.closed) return;
    for (const topic of topics) this.hub.joinFanout(topic, this.subscriber);
  }

  /** Stops buffering without going live (the connection closed, or a poll answers now). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.hub.pending.delete(this as Join<S>);
    this.replayed = [];
    this.buffer.length = 0;
  }
}

/**
 * Routes broker events to local subscribers. Every event is encoded once, then handed to the
 * runtime's fan-out. A join (subscribe, possibly with replay) hands over from history to live with
 * no gap and no duplicate even when the broker answers asynchronously: live events that arrive
 * before the connection goes live are buffered in its Join and merged.
 */
export class Hub<S extends TopicHolder = TopicHolder> {
  private readonly watches = new Map<string, Watch>();
  /** Joins not yet live; read by Join. */
  readonly pending = new Set<Join<S>>();

  constructor(
    readonly broker: Broker,
    private readonly fanout: Fanout<S>,
    private readonly metrics: Metrics,
    /** Bytes of live events one join may buffer behind its backlog (MAX_BUFFERED_BYTES). */
    readonly maxBufferedBytes: number = Number.MAX_SAFE_INTEGER,
  ) {
    broker.setListener((event) => this.route(event));
  }

  get topicCount(): number {
    return this.watches.size;
  }

  private route(event: EncodedEvent): void {
    const { topic } = event.envelope;
    if (this.pending.size > 0) {
      for (const join of this.pending) if (join.topics.has(topic)) join.buffered(event);
    }
    this.metrics.delivered += this.fanout.publish(topic, event);
  }

  /**
   * Subscribes `subscriber` to `topics` (which it must not hold yet), resuming after `lastEventId`
   * when given. Resolves once the broker has answered with the Join to send and take live, or
   * undefined if the subscriber closed meanwhile. Leaving a topic while its join is pending is
   * done with `leave`, as for a live one. If the broker fails, the topics are released and the
   * error is thrown.
   */
  async join(subscriber: S, topics: readonly string[], lastEventId: string | undefined): Promise<Join<S> | undefined> {
    const join = new Join(this, subscriber, new Set(topics));
    this.pending.add(join);
    try {
      await Promise.all(topics.map((topic) => this.retain(topic)));
      const position = this.broker.position();
      const replay = lastEventId === undefined ? undefined : await this.broker.replay(topics, lastEventId);
      join.answered(position, replay?.resetTopics ?? [], replay?.events ?? [], lastEventId);
    } catch (error) {
      join.end();
      for (const topic of topics) this.release(topic);
      throw error;
    }
    // A subscriber that closed meanwhile already released its topics through leave().
    if (subscriber.closed) {
      join.end();
      return undefined;
    }
    return join;
  }

  /** Called by Join.goLive. */
  joinFanout(topic: string, subscriber: S): void {
    this.fanout.join(topic, subscriber);
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
