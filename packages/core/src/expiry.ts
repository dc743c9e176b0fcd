/** setTimeout's longest delay (2^31 - 1 ms, about 24.8 days); a longer one would fire at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** What a session whose token has no `exp` cancels: one shared function, nothing per connection. */
export const NO_EXPIRY = (): void => {};

/** A session whose credentials end: its timer calls `expire()` at their end. */
export interface Expiring {
  expire(): void;
}

/**
 * One timer per connection that calls `session.expire()` at `expiresAt` (ms since the epoch):
 * credentials are checked once, at their end, never per event. A date past setTimeout's range is
 * reached in steps. Returns the function that cancels it. Without an `expiresAt` it allocates
 * nothing (the timer's closures live in their own function): an idle connection is mostly this.
 */
export function expiryTimer(expiresAt: number | undefined, session: Expiring): () => void {
  return expiresAt === undefined ? NO_EXPIRY : startExpiryTimer(expiresAt, session);
}

function startExpiryTimer(expiresAt: number, session: Expiring): () => void {
  const delayOf = () => Math.min(Math.max(0, expiresAt - Date.now()), MAX_DELAY_MS);
  // Fires from a timer even when already due, never inside the caller's own turn.
  const check = () => {
    if (Date.now() >= expiresAt) session.expire();
    else timer = setTimeout(check, delayOf());
  };
  let timer = setTimeout(check, delayOf());
  return () => clearTimeout(timer);
}
