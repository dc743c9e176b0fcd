/** One bucket's state: the tokens left at `stamp` (a `performance.now()` time, ms). */
export interface Bucket {
  tokens: number;
  stamp: number;
}

/**
 * A token-bucket limit: `rate` tokens a second refill a bucket of `burst`, and each admitted unit
 * takes one. Hand-written rather than a library: the per-publish check must be O(1) and allocate
 * nothing (rate-limiter-flexible and the like return a result object per call), and the state
 * lives on the session or the per-IP entry that owns it. A rate of 0 is no limit.
 */
export class RateLimit {
  constructor(
    readonly rate: number,
    readonly burst: number,
  ) {}

  get off(): boolean {
    return this.rate === 0;
  }

  bucket(now: number): Bucket {
    return { tokens: this.burst, stamp: now };
  }

  /** Takes one token if there is one: true when the unit is admitted. */
  take(bucket: Bucket, now: number): boolean {
    if (this.rate === 0) return true;
    const tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.stamp) * this.rate) / 1000);
    bucket.stamp = now;
    if (tokens < 1) {
      bucket.tokens = tokens;
      return false;
    }
    bucket.tokens = tokens - 1;
    return true;
  }

  /** Whole seconds until a refused bucket holds a token again (the Retry-After value; at least 1). */
  retryAfterS(bucket: Bucket): number {
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.rate));
  }

  /** Whether the bucket has refilled to `burst` by `now`: it then carries no state worth keeping. */
  isFull(bucket: Bucket, now: number): boolean {
    return bucket.tokens + ((now - bucket.stamp) * this.rate) / 1000 >= this.burst;
  }
}

/** The limits on a WebSocket's own frames, shared by every session of a server. */
export interface FrameLimits {
  /** Publish frames: PUBLISH_RATE a second into a bucket of PUBLISH_BURST. */
  readonly publish: RateLimit;
  /** Subscribe frames: SUBSCRIBE_RATE a second, at most that many at once. */
  readonly subscribe: RateLimit;
}

export function frameLimitsOf(config: { publishRate: number; publishBurst: number; subscribeRate: number }): FrameLimits {
  return { publish: new RateLimit(config.publishRate, config.publishBurst), subscribe: new RateLimit(config.subscribeRate, Math.max(1, config.subscribeRate)) };
}
