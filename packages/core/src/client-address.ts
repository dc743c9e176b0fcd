import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** TRUSTED_PROXIES, parsed once: whether a peer's X-Forwarded-For may be believed. */
export class TrustedProxies {
  private readonly ranges: [Address, number][];

  constructor(entries: readonly string[]) {
    this.ranges = entries.map((entry) => {
      if (entry.includes('/')) return ipaddr.parseCIDR(entry);
      const address = ipaddr.process(entry);
      return [address, address.kind() === 'ipv4' ? 32 : 128];
    });
  }

  get none(): boolean {
    return this.ranges.length === 0;
  }

  includes(address: Address): boolean {
    for (const [range, bits] of this.ranges) {
      if (address.kind() === range.kind() && address.match(range, bits)) return true;
    }
    return false;
  }
}

/** Parses one address as a socket or a proxy reports it (IPv4-mapped IPv6 as IPv4; `[v6]:port`, `v4:port`). */
function parseAddress(text: string): Address | undefined {
  let value = text.trim();
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracket) value = bracket[1]!;
  else if (/^[\d.]+:\d+$/.test(value)) value = value.slice(0, value.indexOf(':'));
  const zone = value.indexOf('%');
  if (zone >= 0) value = value.slice(0, zone);
  if (!ipaddr.IPv4.isValidFourPartDecimal(value) && !ipaddr.IPv6.isValid(value)) return undefined;
  return ipaddr.process(value);
}

/**
 * The key per-IP limits count a client by: an IPv4 address, or the /64 prefix of an IPv6 one
 * (one host's share: a host rotating through its /64 stays one client).
 */
function keyOf(address: Address): string {
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts;
  return `${parts.slice(0, 4).map((part) => part.toString(16)).join(':')}::/64`;
}

/**
 * The client a request comes from, as a per-IP limit key. The socket's peer address, unless that
 * peer is a trusted proxy: then X-Forwarded-For is walked from the right (each proxy appends the
 * address it saw), past trusted addresses, and the right-most untrusted one is the client. An
 * entry that is no address ends the walk at the proxy that wrote it. Without a peer address (a
 * request made in-process), every such request is one client.
 */
export function clientKey(peer: string | undefined, forwardedFor: string | null, trusted: TrustedProxies): string {
  if (peer === undefined || peer === '') return 'unknown';
  // The common case, no proxies and a plain IPv4 peer, without parsing anything.
  if (trusted.none && !peer.includes(':')) return peer;
  let client = parseAddress(peer);
  if (!client) return peer;
  if (forwardedFor && trusted.includes(client)) {
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseAddress(hops[i]!);
      if (!hop) break;
      client = hop;
      if (!trusted.includes(hop)) break;
    }
  }
  return keyOf(client);
}
