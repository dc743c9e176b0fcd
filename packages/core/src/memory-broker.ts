import {
  type Broker,
  type BrokerListener,
  type Envelope,
  type PublishInput,
  type PublishResult,
  type ReplayResult,
  formatEventId,
  newEpoch,
  parseEventId,
} from '@relaykit/contracts';

/** One topic's bounded history: a ring of envelopes plus the idempotency keys they carry. */
class TopicHistory {
  private readonly ring: (Envelope | undefined)[];
  private readonly seqs: number[];
  private readonly keys = new Map<string, Envelope>();
  private readonly keyOf: (string | undefined)[];
  private start = 0;
  size = 0;
  /** Seq of the newest event dropped from the ring; events at or below it cannot be replayed. */
  evictedUpTo = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Array(capacity);
    this.seqs = new Array(capacity);
    this.keyOf = new Array(capacity);
  }

  byKey(key: string): Envelope | undefined {
    return this.keys.get(key);
  }

  push(envelope: Envelope, seq: number, key: string | undefined): void {
    if (this.capacity === 0) {
      this.evictedUpTo = seq;
      return;
    }
    if (this.size === this.capacity) {
      const oldKey = this.keyOf[this.start];
      if (oldKey !== undefined) this.keys.delete(oldKey);
      this.evictedUpTo = this.seqs[this.start]!;
      this.start = (this.start + 1) % this.capacity;
      this.size--;
    }
    const at = (this.start + this.size) % this.capacity;
    this.ring[at] = envelope;
    this.seqs[at] = seq;
    this.keyOf[at] = key;
    if (key !== undefined) this.keys.set(key, envelope);
    this.size++;
  }

  /** Events with seq > afterSeq, oldest first, as [seq, envelope] pairs. */
  after(afterSeq: number): Array<[number, Envelope]> {
    const out: Array<[number, Envelope]> = [];
    for (let i = this.size - 1; i >= 0; i--) {
      const at = (this.start + i) % this.capacity;
      const seq = this.seqs[at]!;
      if (seq <= afterSeq) break;
      out.push([seq, this.ring[at]!]);
    }
    return out.reverse();
  }
}

export interface MemoryBrokerOptions {
  historySize: number;
  /** For tests: a fixed epoch instead of a fresh one. */
  epoch?: string;
  now?: () => number;
}

/**
 * The default, single-process broker. Publication is synchronous underneath the async interface,
 * so subscribe, replay and live delivery can never interleave inside one process.
 */
export class MemoryBroker implements Broker {
  readonly epoch: string;
  private seq = 0;
  private readonly histories = new Map<string, TopicHistory>();
  private listener: BrokerListener = () => {};
  private readonly now: () => number;

  constructor(private readonly options: MemoryBrokerOptions) {
    this.epoch = options.epoch ?? newEpoch();
    this.now = options.now ?? Date.now;
  }

  setListener(listener: BrokerListener): void {
    this.listener = listener;
  }

  private history(topic: string): TopicHistory {
    let history = this.histories.get(topic);
    if (!history) {
      history = new TopicHistory(this.options.historySize);
      this.histories.set(topic, history);
    }
    return history;
  }

  async publish(topic: string, input: PublishInput): Promise<PublishResult> {
    const history = this.history(topic);
    if (input.key !== undefined) {
      const seen = history.byKey(input.key);
      if (seen) return { envelope: seen, duplicate: true };
    }
    const seq = ++this.seq;
    const envelope: Envelope = {
      id: formatEventId(this.epoch, seq),
      topic,
      type: input.type,
      data: input.data ?? null,
      time: this.now(),
    };
    history.push(envelope, seq, input.key);
    this.listener(envelope);
    return { envelope, duplicate: false };
  }

  async replay(topics: readonly string[], afterId: string): Promise<ReplayResult> {
    const parsed = parseEventId(afterId);
    const interpretable = parsed !== undefined && parsed.epoch === this.epoch && parsed.seq <= this.seq;
    const afterSeq = interpretable ? parsed.seq : 0;
    const merged: Array<[number, Envelope]> = [];
    const resetTopics: string[] = [];
    for (const topic of topics) {
      const history = this.histories.get(topic);
      if (!interpretable || (history !== undefined && history.evictedUpTo > afterSeq)) resetTopics.push(topic);
      if (history) merged.push(...history.after(afterSeq));
    }
    if (topics.length > 1) merged.sort((a, b) => a[0] - b[0]);
    return { events: merged.map(([, envelope]) => envelope), resetTopics };
  }

  async watch(): Promise<void> {}
  async unwatch(): Promise<void> {}

  position(): string {
    return formatEventId(this.epoch, this.seq);
  }

  compareIds(a: string, b: string): number {
    const pa = parseEventId(a);
    const pb = parseEventId(b);
    if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
    // Epochs start with the base-36 start time, so later brokers sort after earlier ones.
    if (pa.epoch !== pb.epoch) return pa.epoch < pb.epoch ? -1 : 1;
    return pa.seq - pb.seq;
  }

  async close(): Promise<void> {
    this.listener = () => {};
  }
}
