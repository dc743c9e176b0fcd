export { RelayClient, createClient } from './client.js';
export type {
  ClientEvents,
  ClientOptions,
  ConnectionState,
  EventMap,
  PublishOptions,
  RelayEvent,
  ResetNotice,
  StateChange,
  TransportChange,
} from './client.js';
export { RelayKitError, type ClientErrorCode } from './errors.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { ResumeState } from './resume.js';
export { TransportSelector, transportCandidates, PREFERENCE, type TransportOption } from './select.js';
export type { TransportKind } from './transport.js';
