import type { ConnectionTransport } from '@relaykit/contracts';

/** Who is connected, as the auth hook decided. `id` appears in logs; the rest is the hook's own. */
export interface Principal {
  id: string;
  /**
   * When the credentials end, in ms since the epoch (a JWT's `exp`): a WebSocket is closed with
   * 4001 then unless refreshed, an SSE stream ends with `token_expired`, a held poll is answered.
   */
  expiresAt?: number;
  [claim: string]: unknown;
}

export interface AuthRequest {
  /**
   * From `Authorization: Bearer`, the `token` query parameter, or the `relaykit_token` cookie (only
   * without an Origin or from a same-origin or listed one; from any other, `header('cookie')` is null too).
   */
  token: string | undefined;
  /** 'history', 'presence': a read of `GET /v1/topics/:topic/history` or `/presence`. */
  transport: ConnectionTransport | 'publish' | 'history' | 'presence';
  url: URL;
  header(name: string): string | null;
}

/**
 * The auth hook: decides who may connect, subscribe and publish. Every method may be async.
 * Returning null from `authenticate` answers 401 unauthorized (a thrown RelayError answers its own
 * code, e.g. token_expired); false from a topic check answers 403.
 */
export interface AuthHooks {
  authenticate(request: AuthRequest): Principal | null | Promise<Principal | null>;
  canSubscribe(principal: Principal, topic: string): boolean | Promise<boolean>;
  canPublish(principal: Principal, topic: string): boolean | Promise<boolean>;
}

const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous' });

/** True for the principal of allowAll (no auth configured): it names no user. */
export function isAnonymous(principal: Principal): boolean {
  return principal === ANONYMOUS;
}

export const allowAll: AuthHooks = {
  authenticate: () => ANONYMOUS,
  canSubscribe: () => true,
  canPublish: () => true,
};

export const TOKEN_COOKIE = 'relaykit_token';

/**
 * EventSource cannot send headers, so the token may also come in the query string or a cookie.
 * `cookie: false` ignores the cookie (a foreign page's request: see OriginPolicy.cookieHonoured).
 */
export function tokenFrom(url: URL, header: (name: string) => string | null, options: { cookie: boolean } = { cookie: true }): string | undefined {
  const authorization = header('authorization');
  if (authorization?.toLowerCase().startsWith('bearer ')) return authorization.slice(7).trim();
  const query = url.searchParams.get('token');
  if (query) return query;
  const cookie = options.cookie ? header('cookie') : null;
  if (cookie) {
    for (const part of cookie.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === TOKEN_COOKIE) return safeDecode(part.slice(eq + 1).trim());
    }
  }
  return undefined;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
