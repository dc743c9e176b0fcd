// The adapter API: what a runtime's transport edge and alternative brokers build on.
export { Hub, Join, type TopicHolder } from './hub.js';
export { type BacklogSink, sendPaced } from './backlog.js';
export { MemoryBroker, type MemoryBrokerOptions } from './memory-broker.js';
export { RedisBroker, type RedisBrokerOptions, BrokerUnavailableError } from './redis-broker.js';
export { SetFanout } from './set-fanout.js';
export { Metrics } from './metrics.js';
export { WsSession, type WsPeer } from './ws-session.js';
export { SseSession, type SseSink } from './sse-session.js';
export { PollWaiter } from './poll.js';
export type { Session, SessionHost } from './session-host.js';
export { nestsDeeperThan } from './json-depth.js';
export { TurnBuffered, TurnCorked } from './turn-cork.js';
export { readBody } from './read-body.js';
export { PresenceHub, type PresenceWatcher, type PresenceFanout, type EncodedPresence } from './presence-hub.js';
