import type { Envelope, PresenceChange, ResetCode } from '@relaykit/contracts';
import type { RelayKitError } from './errors.js';
import type { ResumeState } from './resume.js';

export type TransportKind = 'sse' | 'ws' | 'poll';

export interface ResetInfo {
  code: ResetCode;
  topics: string[];
  /** The server's position: what follows the reset starts here. */
  position: string | undefined;
}

/** What a transport reports to the client. Calls after `close()` are ignored by the client. */
export interface TransportHooks {
  /** The stream is proven to work (SSE open comment, WebSocket welcome, first poll answers). */
  open(info: { heartbeatMs?: number | undefined; server?: string | undefined }): void;
  event(envelope: Envelope): void;
  /** A join or a leave (WebSocket and SSE, when the context asks for presence). */
  presence(change: PresenceChange): void;
  reset(reset: ResetInfo): void;
  /** Anything arrived (keepalive comment, pong, frame): the connection is alive. */
  activity(): void;
  /** A heartbeat interval was observed or announced. */
  heartbeat(ms: number): void;
  /** A non-fatal error to surface (a refused subscribe, an invalid frame). */
  error(error: RelayKitError): void;
  /** WebSocket publish answers, by the client's ref. */
  ack(ref: number, id: string): void;
  nack(ref: number, error: RelayKitError): void;
  /** The server dropped topics the new token does not grant (WebSocket refresh). */
  revoked(topics: string[]): void;
  /** The connection ended; reported once. */
  closed(error: RelayKitError): void;
}

export interface TransportContext {
  baseUrl: string;
  topics: readonly string[];
  resume: ResumeState;
  token: string | undefined;
  fetch: typeof fetch;
  hooks: TransportHooks;
  /** Long-poll wait in seconds. */
  pollWaitS: number;
  /** Ask for the topics' joins and leaves (WebSocket subscribe `presence: true`, SSE `presence=1`). */
  presence: boolean;
  /** Used by the native EventSource mode, which must name each event type it listens to. */
  eventTypes: readonly string[];
  WebSocket: typeof WebSocket | undefined;
  EventSource: typeof EventSource | undefined;
}

export interface Transport {
  readonly kind: TransportKind;
  /** Adds/removes topics on the live connection; returns false if the connection must be replaced. */
  update(added: readonly string[], removed: readonly string[]): boolean;
  /** WebSocket only: publishes over the socket; resolves with the ack's id. */
  publish?(topic: string, type: string, data: unknown, key: string, ref: number): boolean;
  /** WebSocket only: replaces the token on the open connection; resolves with the new exp (ms), if any. */
  refresh?(token: string): Promise<number | undefined>;
  close(): void;
}

export function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.id === 'string' &&
    typeof v.topic === 'string' &&
    typeof v.type === 'string' &&
    typeof v.time === 'number' &&
    'data' in v
  );
}

export function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}
