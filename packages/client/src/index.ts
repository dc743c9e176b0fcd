export { RelayClient, createClient } from './client.js';
export type {
  ClientEvents,
  ClientOptions,
  ConnectionState,
  EventMap,
  HistoryOptions,
  HistoryPage,
  PublishOptions,
  RelayEvent,
  ResetNotice,
  StateChange,
  TransportChange,
} from './client.js';
export { RelayKitError, type ClientErrorCode } from './errors.js';
export type { BackoffOptions } from './backoff.js';
export type { TransportOption } from './select.js';
export type { TransportKind } from './transport.js';
export type { PresenceChange, PresenceMember, PresenceResponse } from '@relaykit/contracts';
