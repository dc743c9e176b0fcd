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
  eventFrame,
  compareEventIds,
  formatEventId,
  newEpoch,
  parseEventId,
} from '@relaykit/contracts';
import { HistoryStore, type HistoryLimits } from './history-store.js';
import { IdempotencyKeys } from './idempotency.js';
import { MemoryPresence } from './memory-presence.js';
import type { HistoryEntry } from './topic-history.js';

export interface MemoryBrokerOptions extends Partial<Omit<HistoryLimits, 'historySize'>> {
  historySize: number;
  /** How long a publish's idempotency key is remembered (IDEMPOTENCY_TTL_MS); default 5 min. */
  idempotencyTtlMs?: number;
  /** Keys remembered at most (IDEMPOTENCY_MAX_KEYS); default 100,000. */
  idempotencyMaxKeys?: number;
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
  readonly presence = new MemoryPresence();
  private seq = 0;
  private readonly histories: HistoryStore;
  private readonly keys: IdempotencyKeys;
  private listener: BrokerListener = () => {};
  private readonly now: () => number;

  constructor(options: MemoryBrokerOptions) {
    this.epoch = options.epoch ?? newEpoch();
    this.now = options.now ?? Date.now;
    this.histories = new HistoryStore(
      {
        historySize: options.historySize,
        maxHistories: options.maxHistories ?? Number.MAX_SAFE_INTEGER,
        maxBytes: options.maxBytes ?? Number.MAX_SAFE_INTEGER,
        ttlMs: options.ttlMs ?? 0,
      },
      this.now,
    );
    this.keys = new IdempotencyKeys(options.idempotencyTtlMs ?? 300_000, options.idempotencyMaxKeys ?? 100_000, this.now);
  }

  setListener(listener: BrokerListener): void {
    this.listener = listener;
  }

  async publish(topic: string, input: PublishInput): Promise<PublishResult> {
    if (input.key !== undefined) {
      const seen = this.keys.get(topic, input.key);
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
    const entry: HistoryEntry = { seq, envelope, frame: eventFrame(envelope) };
    this.histories.push(topic, entry);
    if (input.key !== undefined) this.keys.remember(topic, input.key, envelope);
    this.listener(encodeEvent(envelope, entry.frame));
    return { envelope, duplicate: false };
  }

  async replay(topics: readonly string[], afterId: string): Promise<ReplayResult> {
    const parsed = parseEventId(afterId);
    const interpretable = parsed !== undefined && parsed.epoch === this.epoch && parsed.seq <= this.seq;
    const afterSeq = interpretable ? parsed.seq : 0;
    this.histories.sweep();
    const merged: HistoryEntry[] = [];
    const resetTopics: string[] = [];
    for (const topic of topics) {
      if (!interpretable || this.histories.lostUpTo(topic) > afterSeq) resetTopics.push(topic);
      const held = this.histories.get(topic)?.after(afterSeq);
      if (held) for (const entry of held) merged.push(entry);
    }
    if (topics.length > 1) merged.sort((a, b) => a.seq - b.seq);
    return { events: merged.map((entry) => encodeEvent(entry.envelope, entry.frame)), resetTopics };
  }

  async history(topic: string, limit: number, beforeId?: string): Promise<HistoryPage> {
    this.histories.sweep();
    let beforeSeq = this.seq + 1;
    if (beforeId !== undefined) {
      const parsed = parseEventId(beforeId);
      if (!parsed || parsed.epoch !== this.epoch || parsed.seq > this.seq) return { events: [], position: this.position(), reset: true };
      beforeSeq = parsed.seq;
    }
    const held = this.histories.get(topic)?.before(beforeSeq, limit) ?? [];
    // A short page is complete unless the topic lost events (lostUpTo is never below the newest lost seq).
    const reset = held.length < limit && this.histories.lostUpTo(topic) > 0;
    return { events: held.map((entry) => entry.envelope), position: this.position(), reset };
  }

  /** A watched topic has local holders: its history is dropped only after every idle one. */
  async watch(topic: string): Promise<void> {
    this.histories.hold(topic);
  }

  async unwatch(topic: string): Promise<void> {
    this.histories.release(topic);
  }

  historyStats(): HistoryStats {
    this.histories.sweep();
    return { histories: this.histories.count, bytes: this.histories.bytes };
  }

  position(): string {
    return formatEventId(this.epoch, this.seq);
  }

  compareIds(a: string, b: string): number {
    return compareEventIds(a, b);
  }

  async close(): Promise<void> {
    this.listener = () => {};
  }
}
