/** setTimeout's longest delay (2^31 - 1 ms, about 24.8 days); a longer one would fire at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * One timer per connection that fires `onExpire` at `expiresAt` (ms since the epoch): credentials
 * are checked once, at their end, never per event. A date past setTimeout's range is reached in
 * steps. Returns the function that cancels it.
 */
export function expiryTimer(expiresAt: number | undefined, onExpire: () => void): () => void {
  if (expiresAt === undefined) return () => {};
  const delayOf = () => Math.min(Math.max(0, expiresAt - Date.now()), MAX_DELAY_MS);
  // Fires from a timer even when already due, never inside the caller's own turn.
  const check = () => {
    if (Date.now() >= expiresAt) onExpire();
    else timer = setTimeout(check, delayOf());
  };
  let timer = setTimeout(check, delayOf());
  return () => clearTimeout(timer);
}
