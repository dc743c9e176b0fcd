import type { Envelope } from '@relaykit/contracts';

interface Remembered {
  envelope: Envelope;
  expires: number;
}

/**
 * The idempotency keys of one process's publishes, each remembered for `ttlMs` (IDEMPOTENCY_TTL_MS)
 * whatever happens to the topic's history, and at most `maxKeys` of them. Every key lives equally
 * long, so insertion order is expiry order: expired keys are dropped from the front as time passes,
 * and over the cap the oldest goes first.
 */
export class IdempotencyKeys {
  private readonly keys = new Map<string, Remembered>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxKeys: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.keys.size;
  }

  /** The event a key already produced on the topic, if it is still remembered. */
  get(topic: string, key: string): Envelope | undefined {
    this.expire();
    return this.keys.get(idOf(topic, key))?.envelope;
  }

  remember(topic: string, key: string, envelope: Envelope): void {
    if (this.maxKeys === 0) return;
    this.expire();
    this.keys.set(idOf(topic, key), { envelope, expires: this.now() + this.ttlMs });
    if (this.keys.size > this.maxKeys) this.keys.delete(this.keys.keys().next().value as string);
  }

  private expire(): void {
    const now = this.now();
    for (const [id, remembered] of this.keys) {
      if (remembered.expires > now) return;
      this.keys.delete(id);
    }
  }
}

// A topic name never contains a space, so this joins the two without ambiguity.
const idOf = (topic: string, key: string) => `${topic} ${key}`;
