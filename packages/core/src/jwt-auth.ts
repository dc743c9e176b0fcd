import { type JWTPayload, type JWTVerifyGetKey, createRemoteJWKSet, errors, jwtVerify } from 'jose';
import type { AuthHooks, Principal } from './auth.js';
import { RelayError } from './errors.js';

export interface JwtAuthOptions {
  /** HS256 shared secret (at least 32 bytes). */
  secret?: string | undefined;
  /** A JWKS whose keys verify ES256 and RS256 tokens (jose fetches it, caches it, refetches on an unknown `kid`). */
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Refuse tokens without `exp` (401 token_exp_required). */
  requireExp?: boolean | undefined;
}

/**
 * Topic grants carried in the token's `relaykit` claim: `{subscribe?: string[], publish?: string[]}`.
 * A pattern is a topic name, or a prefix ending in `*`. A missing list grants every topic.
 */
interface Grants {
  subscribe?: readonly string[];
  publish?: readonly string[];
}

interface JwtPrincipal extends Principal {
  grants: Grants;
}

const BEARER = { 'www-authenticate': 'Bearer' };
const EXPIRED = { 'www-authenticate': 'Bearer error="invalid_token", error_description="token expired"' };

function matches(patterns: readonly string[] | undefined, topic: string): boolean {
  if (patterns === undefined) return true;
  return patterns.some((p) => (p.endsWith('*') ? topic.startsWith(p.slice(0, -1)) : p === topic));
}

function grantsOf(payload: JWTPayload): Grants | undefined {
  const claim = payload.relaykit;
  if (claim === undefined) return {};
  if (typeof claim !== 'object' || claim === null) return undefined;
  const grants: Grants = {};
  for (const key of ['subscribe', 'publish'] as const) {
    const list = (claim as Record<string, unknown>)[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || !list.every((p) => typeof p === 'string')) return undefined;
    grants[key] = list;
  }
  return grants;
}

/** The verification key for a token's header: the HS256 secret, or the JWKS key its `kid` names. */
function keysOf(options: JwtAuthOptions): { key: JWTVerifyGetKey; algorithms: string[] } {
  const secret = options.secret ? new TextEncoder().encode(options.secret) : undefined;
  const jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined;
  const algorithms = [...(secret ? ['HS256'] : []), ...(jwks ? ['ES256', 'RS256'] : [])];
  const key: JWTVerifyGetKey = (header, token) => {
    if (header.alg === 'HS256' && secret) return secret;
    // A key set that cannot be fetched is the server's outage, not the client's bad token: 503, so
    // that clients retry rather than fetch a new token. An unknown `kid` stays a 401.
    if (jwks)
      return jwks(header, token).catch((error: unknown) => {
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
        throw new RelayError('auth_unavailable', 'the token keys (AUTH_JWKS_URL) cannot be fetched: retry later', {}, { cause: error });
      });
    // jwtVerify checked `alg` against `algorithms` already; this is unreachable for a listed one.
    throw new errors.JOSEAlgNotAllowed(`"alg" (Algorithm) Header Parameter value not allowed`);
  };
  return { key, algorithms };
}

/**
 * Auth hooks that accept JWTs (verified with jose: HS256 with `secret`, ES256/RS256 from `jwksUrl`)
 * and enforce their topic grants. The principal's `expiresAt` is the token's `exp`, which ends the
 * connection (§10); an expired token is refused as token_expired, so that a client knows to get a
 * new one rather than give up.
 */
export function jwtAuth(options: JwtAuthOptions): AuthHooks {
  if (!options.secret && !options.jwksUrl) throw new Error('jwtAuth needs a secret or a jwksUrl');
  const { key, algorithms } = keysOf(options);
  return {
    async authenticate({ token }) {
      if (!token) return null;
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms,
          ...(options.issuer ? { issuer: options.issuer } : {}),
          ...(options.audience ? { audience: options.audience } : {}),
        }));
      } catch (error) {
        if (error instanceof RelayError) throw error;
        if (error instanceof errors.JWTExpired) throw new RelayError('token_expired', 'the token has expired: get a new one', EXPIRED);
        return null;
      }
      if (options.requireExp && payload.exp === undefined) {
        throw new RelayError('token_exp_required', 'the token has no exp claim, which this server requires (AUTH_REQUIRE_EXP)', BEARER);
      }
      const grants = grantsOf(payload);
      if (!grants) return null;
      const principal: JwtPrincipal = { id: payload.sub ?? 'anonymous', grants };
      if (payload.exp !== undefined) principal.expiresAt = payload.exp * 1000;
      return principal;
    },
    canSubscribe: (principal, topic) => matches((principal as JwtPrincipal).grants.subscribe, topic),
    canPublish: (principal, topic) => matches((principal as JwtPrincipal).grants.publish, topic),
  };
}
