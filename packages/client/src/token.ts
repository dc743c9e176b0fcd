/**
 * When a JWT expires (its `exp`, in ms), read from its payload without verifying it: the client
 * only needs to know when to fetch the next token; the server verifies. Undefined for a token that
 * is not a JWT or has no `exp`.
 */
export function expiryOf(token: string | undefined): number | undefined {
  const payload = token?.split('.')[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** How long from `now` to refresh a token that expires at `expiresAt`: `leadMs` early, or halfway when less is left. */
export function refreshDelay(expiresAt: number, now: number, leadMs: number): number {
  const left = expiresAt - now;
  return Math.max(0, left - Math.min(leadMs, left / 2));
}
