import { RelayError } from './errors.js';
import type { HandshakeRequest } from './handshake.js';
import { PUBLIC_CORS_HEADERS } from './http-util.js';

/**
 * Which pages may use the server, from the request's `Origin` header (PROTOCOL.md §10).
 * Requests without an Origin (servers, curl) are never refused. A page's own server counts as
 * same-origin: the Origin equals the scheme the server was reached by plus the Host header it
 * received (behind a proxy, the Host the proxy forwards and the proxy's scheme towards the server,
 * so a TLS-terminating proxy's public origin must be listed in ALLOWED_ORIGINS).
 */
export class OriginPolicy {
  private readonly allowed: ReadonlySet<string> | undefined;

  constructor(allowedOrigins: readonly string[] | undefined) {
    this.allowed = allowedOrigins ? new Set(allowedOrigins) : undefined;
  }

  /** ALLOWED_ORIGINS is set: only listed and same-origin pages are served. */
  get restricted(): boolean {
    return this.allowed !== undefined;
  }

  /** Throws origin_not_allowed for a foreign Origin when ALLOWED_ORIGINS is set. */
  check(request: HandshakeRequest): void {
    if (!this.allowed) return;
    const origin = request.header('origin');
    if (origin !== null && !this.trusted(origin, request)) {
      throw new RelayError('origin_not_allowed', `origin ${origin} is not in ALLOWED_ORIGINS`, { vary: 'Origin' });
    }
  }

  /**
   * Whether the `relaykit_token` cookie may stand for the user: a browser attaches it to a foreign
   * page's requests too (cross-site WebSocket hijacking, form posts), so it counts only without an
   * Origin or from a same-origin or listed one. A header or query token is always sent deliberately.
   */
  cookieHonoured(request: HandshakeRequest): boolean {
    const origin = request.header('origin');
    return origin === null || this.trusted(origin, request);
  }

  /** The CORS headers for an answer to `origin`: `*` when public, else the origin itself when listed. */
  corsHeaders(origin: string | null): Readonly<Record<string, string>> {
    if (!this.allowed) return PUBLIC_CORS_HEADERS;
    return origin !== null && this.allowed.has(origin) ? { 'access-control-allow-origin': origin, vary: 'Origin' } : { vary: 'Origin' };
  }

  /** Puts this origin's grant in place of the public `*` an answer was made with (ALLOWED_ORIGINS set). */
  grant(headers: Headers, origin: string | null): void {
    headers.delete('access-control-allow-origin');
    const listed = this.corsHeaders(origin)['access-control-allow-origin'];
    if (listed) headers.set('access-control-allow-origin', listed);
    if (!/(^|,)\s*origin\s*(,|$)/i.test(headers.get('vary') ?? '')) headers.append('vary', 'Origin');
  }

  private trusted(origin: string, request: HandshakeRequest): boolean {
    return this.allowed?.has(origin) === true || origin === ownOrigin(request);
  }
}

/** The request's own origin as a browser would serialise it, or undefined without a usable Host. */
function ownOrigin(request: HandshakeRequest): string | undefined {
  const host = request.header('host');
  // A browser always sends its real Host; anything beyond host[:port] is no origin of ours.
  if (!host || /[/?#@\\\s]/.test(host)) return undefined;
  try {
    return new URL(`${request.url.protocol}//${host}`).origin;
  } catch {
    return undefined;
  }
}
