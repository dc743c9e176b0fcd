import type { TransportKind } from './transport.js';

export const PREFERENCE: readonly TransportKind[] = ['sse', 'ws', 'poll'];

export type TransportOption = 'auto' | TransportKind | readonly TransportKind[];

export interface PlatformFeatures {
  /** fetch with a streaming body (or native EventSource when that mode is chosen). */
  sse: boolean;
  ws: boolean;
  poll: boolean;
}

/** The transports to try, best first: the option's, less those the platform lacks. */
export function transportCandidates(option: TransportOption, features: PlatformFeatures): TransportKind[] {
  const wanted = option === 'auto' ? PREFERENCE : typeof option === 'string' ? [option] : option;
  const usable = wanted.filter((kind) => features[kind]);
  if (usable.length === 0) throw new Error(`none of the transports ${wanted.join(', ')} is available on this platform`);
  return [...new Set(usable)];
}

/**
 * Picks the transport of each connection attempt. A transport that has opened once on this client
 * is "proven" and kept through later drops (a server restart is no reason to change). One that
 * fails before it ever opened (upgrade blocked, stream buffered so its opening comment never
 * came) hands over to the next candidate at once; when every candidate has failed the client
 * starts again from the best, on the next URL when it has several (backing off once every URL has
 * failed in a row).
 */
export class TransportSelector {
  private index = 0;
  private readonly proven = new Set<TransportKind>();
  reason: string;

  constructor(readonly candidates: readonly TransportKind[], explicit: boolean) {
    this.reason = explicit
      ? `chosen by option (${candidates.join(' > ')})`
      : `automatic: first of ${candidates.join(' > ')}`;
  }

  get current(): TransportKind {
    return this.candidates[this.index]!;
  }

  opened(kind: TransportKind): void {
    this.proven.add(kind);
  }

  isProven(kind: TransportKind): boolean {
    return this.proven.has(kind);
  }

  /**
   * A connection attempt on `kind` failed before it opened. Returns `switched` when the next
   * attempt should go at once to another transport, `wrapped` when every candidate has failed.
   */
  failedBeforeOpen(kind: TransportKind, why: string): { switched: boolean; wrapped: boolean } {
    if (this.proven.has(kind) || this.candidates.length === 1) return { switched: false, wrapped: false };
    if (this.index < this.candidates.length - 1) {
      this.index++;
      this.reason = `${kind} failed before opening (${why}); falling back to ${this.current}`;
      return { switched: true, wrapped: false };
    }
    this.index = 0;
    this.reason = `every transport failed before opening (last: ${kind}: ${why}); retrying from ${this.current}`;
    return { switched: false, wrapped: true };
  }
}
