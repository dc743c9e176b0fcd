import ipaddr from 'ipaddr.js';

/**
 * A WebSocket "keeps exceeding" its limits when RATE_LIMIT_STRIKES of its frames are refused with
 * `rate_limited` within RATE_LIMIT_STRIKE_WINDOW_MS of the first of them: the last refusal closes
 * it with 4029. A refusal after the window has passed starts a new one.
 */
export const RATE_LIMIT_STRIKES = 10;
export const RATE_LIMIT_STRIKE_WINDOW_MS = 10_000;

/**
 * Client addresses a process tracks for its per-IP limits (HTTP publishes, connections and polls).
 * Past it, addresses whose buckets are full again are forgotten first, then the longest tracked:
 * an attacker rotating source addresses cannot grow memory beyond this many entries.
 */
export const RATE_LIMIT_MAX_CLIENTS = 65_536;

/** One TRUSTED_PROXIES entry: an IPv4 or IPv6 address, or a CIDR range of either. */
export function isAddressOrRange(entry: string): boolean {
  // Four-part decimal IPv4 only: ipaddr.js also reads forms like 0x7f.1, which no proxy writes.
  return (
    ipaddr.IPv4.isValidFourPartDecimal(entry) ||
    ipaddr.IPv4.isValidCIDRFourPartDecimal(entry) ||
    ipaddr.IPv6.isValid(entry) ||
    ipaddr.IPv6.isValidCIDR(entry)
  );
}

/** TRUSTED_PROXIES as a list: comma- or space-separated entries, empty ones dropped. */
export function splitAddressList(value: string): string[] {
  return value.split(/[\s,]+/).filter((entry) => entry !== '');
}
