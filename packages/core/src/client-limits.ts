import { RATE_LIMIT_MAX_CLIENTS } from '@relaykit/contracts';
import { type Bucket, RateLimit } from './token-bucket.js';

/** The per-IP limits: HTTP publishes (PUBLISH_RATE/BURST) and new connections and polls (CONNECT_RATE/BURST). */
export type ClientLimitKind = 'publish' | 'connect';

interface ClientEntry {
  publish: Bucket;
  connect: Bucket;
}

/** How often, at most, the whole table is swept for buckets that have refilled (ms). */
const SWEEP_INTERVAL_MS = 60_000;
/** How often, at most, a full table is swept before the longest tracked entry is dropped instead (ms). */
const FULL_SWEEP_INTERVAL_MS = 1000;

/**
 * Token buckets per client address, bounded in memory: at most `maxClients` entries. An entry
 * whose buckets have refilled is worth nothing (a new one would be the same) and is swept away
 * about once a minute; when the table is full, it is swept first (at most once a second), and
 * if that frees nothing the longest-tracked entry goes (Map order is insertion order, so it is
 * O(1)). Forgetting an address only ever gives it a full bucket again: rotating source addresses
 * gains an attacker nothing it would not have had from a fresh address anyway.
 */
export class ClientLimits {
  readonly publish: RateLimit;
  readonly connect: RateLimit;
  private readonly entries = new Map<string, ClientEntry>();
  private lastSweep = 0;

  constructor(
    publish: RateLimit,
    connect: RateLimit,
    private readonly maxClients = RATE_LIMIT_MAX_CLIENTS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.publish = publish;
    this.connect = connect;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Takes one unit of `kind` for `client`: 0 when admitted, else the whole seconds to wait. */
  take(kind: ClientLimitKind, client: string): number {
    const limit = this[kind];
    if (limit.off) return 0;
    const now = this.now();
    let entry = this.entries.get(client);
    if (!entry) {
      this.makeRoom(now);
      entry = { publish: this.publish.bucket(now), connect: this.connect.bucket(now) };
      this.entries.set(client, entry);
    } else if (now - this.lastSweep > SWEEP_INTERVAL_MS) this.sweep(now);
    const bucket = entry[kind];
    return limit.take(bucket, now) ? 0 : limit.retryAfterS(bucket);
  }

  private makeRoom(now: number): void {
    if (this.entries.size < this.maxClients) {
      if (now - this.lastSweep > SWEEP_INTERVAL_MS) this.sweep(now);
      return;
    }
    if (now - this.lastSweep > FULL_SWEEP_INTERVAL_MS) this.sweep(now);
    while (this.entries.size >= this.maxClients) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  /** Drops every entry whose buckets have both refilled. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [client, entry] of this.entries) {
      if (this.publish.isFull(entry.publish, now) && this.connect.isFull(entry.connect, now)) this.entries.delete(client);
    }
  }
}
