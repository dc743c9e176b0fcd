import { type JWTPayload, jwtVerify } from 'jose';
import type { AuthHooks, Principal } from './auth.js';

export interface JwtAuthOptions {
  /** HS256 shared secret (at least 32 bytes). */
  secret: string;
  issuer?: string | undefined;
  audience?: string | undefined;
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

/** Auth hooks that accept HS256 JWTs (verified with jose) and enforce their topic grants. */
export function jwtAuth(options: JwtAuthOptions): AuthHooks {
  const key = new TextEncoder().encode(options.secret);
  return {
    async authenticate({ token }) {
      if (!token) return null;
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          ...(options.issuer ? { issuer: options.issuer } : {}),
          ...(options.audience ? { audience: options.audience } : {}),
        });
        const grants = grantsOf(payload);
        if (!grants) return null;
        const principal: JwtPrincipal = { id: payload.sub ?? 'anonymous', grants };
        return principal;
      } catch {
        return null;
      }
    },
    canSubscribe: (principal, topic) => matches((principal as JwtPrincipal).grants.subscribe, topic),
    canPublish: (principal, topic) => matches((principal as JwtPrincipal).grants.publish, topic),
  };
}
