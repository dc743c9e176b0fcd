import { type HistoryEntry, TopicHistory } from './topic-history.js';

export interface HistoryLimits {
  /** Events per topic (HISTORY_SIZE). */
  historySize: number;
  /** Histories held at once (MAX_HISTORIES). */
  maxHistories: number;
  /** Envelope JSON bytes held by all histories together (HISTORY_MAX_BYTES). */
  maxBytes: number;
  /** Idle time after which a history with no holder is dropped (HISTORY_TTL_MS); 0 = never by age. */
  ttlMs: number;
}

interface Slot {
  history: TopicHistory;
  lastActive: number;
}

/**
 * Every topic history of one process, bounded in number, in bytes and in idle time. Histories of
 * topics that some local connection holds ("held") are kept apart from the rest ("idle"); each map
 * is in order of last activity (a publish, or the last holder leaving), so the least recently
 * active idle history is always the first to go, and the age sweep stops at the first young one.
 *
 * A dropped history leaves its last seq behind (a bounded tombstone, later one process-wide
 * watermark), so a resume from before it is reset and one from after it is not.
 */
export class HistoryStore {
  private readonly idle = new Map<string, Slot>();
  private readonly held = new Map<string, Slot>();
  private readonly holders = new Set<string>();
  private readonly dropped = new Map<string, number>();
  private droppedWatermark = 0;
  bytes = 0;

  constructor(
    private readonly limits: HistoryLimits,
    private readonly now: () => number,
  ) {}

  get count(): number {
    return this.idle.size + this.held.size;
  }

  get(topic: string): TopicHistory | undefined {
    return (this.held.get(topic) ?? this.idle.get(topic))?.history;
  }

  /** The seq up to which a topic's events may have been dropped: a resume from before it is incomplete. */
  lostUpTo(topic: string): number {
    const history = this.get(topic);
    if (history) return history.evictedUpTo;
    return this.dropped.get(topic) ?? this.droppedWatermark;
  }

  /** Adds an event to its topic's history (created if missing), then enforces every bound. */
  push(topic: string, entry: HistoryEntry): void {
    const now = this.now();
    this.sweep(now);
    const map = this.holders.has(topic) ? this.held : this.idle;
    let slot = map.get(topic);
    if (slot) map.delete(topic);
    else {
      const history = new TopicHistory(this.limits.historySize);
      history.evictedUpTo = this.lostUpTo(topic);
      this.dropped.delete(topic);
      slot = { history, lastActive: now };
    }
    slot.lastActive = now;
    map.set(topic, slot);
    const before = slot.history.bytes;
    slot.history.push(entry);
    this.bytes += slot.history.bytes - before;
    this.enforce(topic, slot.history);
  }

  hold(topic: string): void {
    this.holders.add(topic);
    const slot = this.idle.get(topic);
    if (!slot) return;
    this.idle.delete(topic);
    this.held.set(topic, slot);
  }

  release(topic: string): void {
    this.holders.delete(topic);
    const slot = this.held.get(topic);
    if (!slot) return;
    this.held.delete(topic);
    slot.lastActive = this.now();
    this.idle.set(topic, slot);
  }

  /** Drops idle histories older than the TTL; cheap enough to run on every publish and read. */
  sweep(now = this.now()): void {
    if (this.limits.ttlMs === 0) return;
    const cutoff = now - this.limits.ttlMs;
    for (const [topic, slot] of this.idle) {
      if (slot.lastActive > cutoff) return;
      this.drop(topic, this.idle);
    }
  }

  private enforce(current: string, history: TopicHistory): void {
    const { maxHistories, maxBytes } = this.limits;
    while (this.count > maxHistories && this.dropFirst(current)) {}
    if (this.bytes <= maxBytes) return;
    // Idle histories go first, then the oldest events of the topic being published, then held ones.
    while (this.bytes > maxBytes && this.dropFirst(current, this.idle)) {}
    while (this.bytes > maxBytes && history.size > 1) this.bytes -= history.dropOldest();
    while (this.bytes > maxBytes && this.dropFirst(current, this.held)) {}
  }

  /** Drops the least recently active history other than `keep` (idle before held); false if none. */
  private dropFirst(keep: string, only?: Map<string, Slot>): boolean {
    for (const map of only ? [only] : [this.idle, this.held]) {
      for (const topic of map.keys()) {
        if (topic === keep) continue;
        this.drop(topic, map);
        return true;
      }
    }
    return false;
  }

  private drop(topic: string, map: Map<string, Slot>): void {
    const slot = map.get(topic)!;
    map.delete(topic);
    this.bytes -= slot.history.bytes;
    this.dropped.set(topic, slot.history.lastSeq);
    if (this.dropped.size > this.limits.maxHistories) {
      const [oldest, seq] = this.dropped.entries().next().value as [string, number];
      this.dropped.delete(oldest);
      if (seq > this.droppedWatermark) this.droppedWatermark = seq;
    }
  }
}
