import type { Envelope } from '@relaykit/contracts';

/** One held event: its sequence number, its envelope and its WebSocket frame (see eventFrame). */
export interface HistoryEntry {
  readonly seq: number;
  readonly envelope: Envelope;
  readonly frame: string;
}

const FIRST_CAPACITY = 4;

/**
 * One topic's history: the newest events up to `limit`, oldest first. The ring grows by doubling and shrinks when mostly empty, so a history costs memory
 * in proportion to what it holds, not to HISTORY_SIZE (20,000 topics of one event each used to
 * preallocate 20,000 × HISTORY_SIZE slots).
 */
export class TopicHistory {
  private ring: (HistoryEntry | undefined)[] = [];
  private start = 0;
  size = 0;
  /** Bytes held, counted as the events' frames. */
  bytes = 0;
  /** Seq of the newest event that left the history; a resume from before it cannot be complete. */
  evictedUpTo = 0;
  /** Seq of the newest event published on the topic, held or not. */
  lastSeq = 0;

  constructor(private readonly limit: number) {}

  push(entry: HistoryEntry): void {
    this.lastSeq = entry.seq;
    if (this.limit === 0) {
      this.evictedUpTo = entry.seq;
      return;
    }
    if (this.size === this.limit) this.dropOldest();
    if (this.size === this.ring.length) this.resize(Math.min(this.limit, Math.max(FIRST_CAPACITY, 2 * this.ring.length)));
    this.ring[(this.start + this.size) % this.ring.length] = entry;
    this.size++;
    this.bytes += entry.frame.length;
  }

  /** Removes the oldest event; returns the bytes freed. */
  dropOldest(): number {
    const entry = this.ring[this.start];
    if (!entry) return 0;
    this.ring[this.start] = undefined;
    this.start = (this.start + 1) % this.ring.length;
    this.size--;
    this.bytes -= entry.frame.length;
    this.evictedUpTo = entry.seq;
    if (this.ring.length > 4 * FIRST_CAPACITY && this.size < this.ring.length >>> 2) this.resize(this.ring.length >>> 1);
    return entry.frame.length;
  }

  /** Entries with seq > afterSeq, oldest first. */
  after(afterSeq: number): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (let i = this.size - 1; i >= 0; i--) {
      const entry = this.ring[(this.start + i) % this.ring.length]!;
      if (entry.seq <= afterSeq) break;
      out.push(entry);
    }
    return out.reverse();
  }

  /** The newest `limit` entries with seq < beforeSeq, oldest first. */
  before(beforeSeq: number, limit: number): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (let i = this.size - 1; i >= 0 && out.length < limit; i--) {
      const entry = this.ring[(this.start + i) % this.ring.length]!;
      if (entry.seq < beforeSeq) out.push(entry);
    }
    return out.reverse();
  }

  private resize(capacity: number): void {
    const ring: (HistoryEntry | undefined)[] = new Array(capacity);
    for (let i = 0; i < this.size; i++) ring[i] = this.ring[(this.start + i) % this.ring.length];
    this.ring = ring;
    this.start = 0;
  }
}
