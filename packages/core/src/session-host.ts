import type { Config, PublishInput, PublishResult } from '@relaykit/contracts';
import type { AuthHooks, Principal } from './auth.js';
import type { Hub, TopicHolder } from './hub.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { PresenceHub } from './presence-hub.js';
import type { FrameLimits } from './token-bucket.js';

/** A connection the host tracks: what heartbeats and shutdown ask of it. */
export interface Session extends TopicHolder {
  readonly transport: 'sse' | 'ws';
  /** One heartbeat: an SSE keepalive, or a WebSocket ping (and the close of a peer that missed one). */
  beat(): void;
  /** The server is stopping: close so that the client reconnects elsewhere and resumes. */
  shutdown(): void;
  holds(topic: string): boolean;
  /** The broker may have lost events of a topic it holds: close so that the client resumes. */
  resumeRequired(): void;
}

/**
 * What a session needs from the server around it, and nothing more: a leaf module, so sessions
 * depend on this interface and not on Relay (which creates them), and can be tested with fakes.
 */
export interface SessionHost {
  readonly config: Config;
  readonly serverName: string;
  readonly hub: Hub<TopicHolder>;
  readonly presence: PresenceHub;
  readonly auth: AuthHooks;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** PUBLISH_RATE and SUBSCRIBE_RATE, as each WebSocket session applies them to its frames. */
  readonly frameLimits: FrameLimits;
  /** Publishes through the broker, counting it (refused while shutting down). */
  publish(topic: string, input: PublishInput): Promise<PublishResult>;
  /**
   * Authenticates a WebSocket `refresh` frame's token as if it came in an Authorization header;
   * throws the RelayError to answer (unauthorized, token_expired, ...).
   */
  authenticateToken(token: string): Promise<Principal>;
  /** Called by a session as it closes. */
  forget(session: Session): void;
}
