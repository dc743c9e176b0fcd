export interface BackoffOptions {
  /** Delay before the first retry, before jitter. Default 500 ms. */
  baseMs?: number;
  /** Upper bound of any delay. Default 30 000 ms. */
  maxMs?: number;
}

export const DEFAULT_BACKOFF = { baseMs: 500, maxMs: 30_000 } as const;

/**
 * Exponential backoff with "equal jitter": attempt n waits between half and all of
 * min(maxMs, baseMs * 2^(n-1)), so a crowd of clients spreads out yet none retries at once.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const baseMs = options.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const maxMs = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const n = Math.max(1, Math.floor(attempt));
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(n - 1, 40));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
