import type { EncodedEvent, Fanout } from '@relaykit/contracts';
import { type PresenceFanout, type PresenceWatcher, SetFanout, type TopicHolder, WsSession } from '@relaykit/core/adapter';
import type { Server } from 'bun';
import { BunPeer } from './ws.ts';

interface WsTopic {
  sessions: Set<WsSession<BunPeer>>;
  /** Bytes published to the topic since its subscribers' send buffers were last checked. */
  unchecked: number;
}

/**
 * Topic fan-out on Bun: WebSocket subscribers join the topic in Bun's native pub/sub, so one
 * `server.publish` hands the event's frame to all of them in native code (corked per subscriber);
 * SSE streams and long polls go through a plain SetFanout.
 *
 * A slow consumer must be closed with 4008 after its queued bytes reach MAX_BUFFERED_BYTES, as on
 * every runtime. server.publish reports nothing per subscriber (and Bun's own
 * closeOnBackpressureLimit drops the socket with no close frame), so after every `checkEvery`
 * bytes published to a topic its subscribers' buffers are checked: no subscriber can grow by more
 * than that between checks, and Bun's limit (see wsHandler) sits above threshold plus that slack.
 */
export class BunFanout implements Fanout<TopicHolder>, PresenceFanout {
  private readonly others = new SetFanout<TopicHolder>();
  private readonly wsTopics = new Map<string, WsTopic>();
  /** WebSockets watching joins and leaves through Bun's pub/sub, by connection id, with how many topics they watch. */
  private readonly presenceWatchers = new Map<string, { session: WsSession<BunPeer>; topics: number }>();
  private server: Server<unknown> | undefined;
  private readonly maxBufferedBytes: number;
  private readonly checkEvery: number;

  constructor(maxBufferedBytes: number) {
    this.maxBufferedBytes = maxBufferedBytes;
    this.checkEvery = Math.max(1024, maxBufferedBytes >>> 2);
  }

  /** Bun.serve returns the server after the Relay (and this fan-out) exist. */
  attach(server: Server<unknown>): void {
    this.server = server;
  }

  join(topic: string, subscriber: TopicHolder): void {
    if (!(subscriber instanceof WsSession && subscriber.peer instanceof BunPeer)) return this.others.join(topic, subscriber);
    let entry = this.wsTopics.get(topic);
    if (!entry) {
      entry = { sessions: new Set(), unchecked: 0 };
      this.wsTopics.set(topic, entry);
    }
    entry.sessions.add(subscriber);
    // A socket that is closing gets its close handler next, which leaves every topic.
    if (subscriber.peer.ws.readyState === 1) subscriber.peer.ws.subscribe(topic);
  }

  leave(topic: string, subscriber: TopicHolder): void {
    if (!(subscriber instanceof WsSession && subscriber.peer instanceof BunPeer)) return this.others.leave(topic, subscriber);
    const entry = this.wsTopics.get(topic);
    if (!entry?.sessions.delete(subscriber)) return;
    if (entry.sessions.size === 0) this.wsTopics.delete(topic);
    // Bun drops a closed socket's subscriptions itself.
    if (subscriber.peer.ws.readyState === 1) subscriber.peer.ws.unsubscribe(topic);
  }

  publish(topic: string, event: EncodedEvent): number {
    let count = this.others.publish(topic, event);
    const entry = this.wsTopics.get(topic);
    if (entry && this.server) {
      count += entry.sessions.size;
      this.server.publish(topic, event.ws);
      // String length undercounts multi-byte UTF-8; the threshold has room for that (see wsHandler).
      entry.unchecked += event.ws.length;
      if (entry.unchecked >= this.checkEvery) {
        entry.unchecked = 0;
        for (const session of entry.sessions) {
          if (session.peer.bufferedAmount > this.maxBufferedBytes) session.dropSlowConsumer();
        }
      }
    }
    return count;
  }

  /**
   * Joins and leaves ride Bun's pub/sub too, on a channel per topic whose name no topic can have
   * (topics have no spaces). SSE watchers stay with the presence hub's loop.
   */
  watchPresence(topic: string, watcher: PresenceWatcher): boolean {
    if (!(watcher instanceof WsSession && watcher.peer instanceof BunPeer) || watcher.peer.ws.readyState !== 1) return false;
    const entry = this.presenceWatchers.get(watcher.id);
    if (entry) entry.topics++;
    else this.presenceWatchers.set(watcher.id, { session: watcher, topics: 1 });
    watcher.peer.ws.subscribe(presenceChannel(topic));
    return true;
  }

  unwatchPresence(topic: string, watcher: PresenceWatcher): void {
    const entry = this.presenceWatchers.get(watcher.id);
    if (!entry) return;
    if (--entry.topics === 0) this.presenceWatchers.delete(watcher.id);
    if (entry.session.peer.ws.readyState === 1) entry.session.peer.ws.unsubscribe(presenceChannel(topic));
  }

  /** A watcher is not told of its own join or leave: its own socket's publish skips it. */
  publishPresence(topic: string, frame: string, memberConnectionId: string): void {
    const channel = presenceChannel(topic);
    const ws = this.presenceWatchers.get(memberConnectionId)?.session.peer.ws;
    if (ws && ws.readyState === 1 && ws.isSubscribed(channel)) ws.publish(channel, frame);
    else this.server?.publish(channel, frame);
  }
}

function presenceChannel(topic: string): string {
  return `presence ${topic}`;
}
