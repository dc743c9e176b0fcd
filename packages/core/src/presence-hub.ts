import {
  PRESENCE_COALESCE_MS,
  type PresenceChange,
  type PresenceMember,
  type PresenceResponse,
  type PresenceStore,
  encodeSseEvent,
} from '@relaykit/contracts';

/** A join or a leave encoded once per process for every watcher: the WebSocket frame, the SSE event (no `id:`). */
export interface EncodedPresence {
  readonly ws: string;
  readonly sse: Uint8Array;
}

/** A connection that asked for a topic's joins and leaves. */
export interface PresenceWatcher {
  /** Its connection id: a watcher is not told of its own join or leave. */
  readonly id: string;
  readonly closed: boolean;
  presence(change: EncodedPresence): void;
}

/**
 * A runtime's native delivery of joins and leaves, beside the plain loop over watchers: on Bun a
 * `ws.send` per watcher from a timer is one syscall each (2.5 µs per delivery measured on Bun
 * 1.4.5, as much as a whole event), while its pub/sub sends one frame to all of them in native code.
 */
export interface PresenceFanout {
  /** True when it takes the watcher: its changes then come through `publishPresence` only. */
  watchPresence(topic: string, watcher: PresenceWatcher): boolean;
  unwatchPresence(topic: string, watcher: PresenceWatcher): void;
  /** The change's WebSocket frame to every watcher it took for the topic but the member itself. */
  publishPresence(topic: string, frame: string, memberConnectionId: string): void;
}

interface Pending {
  first: 'join' | 'leave';
  last: 'join' | 'leave';
  member: PresenceMember;
}

const utf8 = new TextEncoder();

function encode(change: PresenceChange): EncodedPresence {
  const json = JSON.stringify(change);
  return { ws: `{"type":"presence",${json.slice(1)}`, sse: utf8.encode(encodeSseEvent({ event: 'presence', data: json })) };
}

/**
 * Presence for the connections of one process, over a store that is this process's (memory) or
 * the cluster's (Redis). Sessions `enter` and `exit` the topics they hold; those that asked for
 * joins and leaves `watch` them. Changes heard from the store are coalesced per topic for
 * PRESENCE_COALESCE_MS (a join and a leave of one connection within it cancel out) and dropped
 * while the topic has more than PRESENCE_MAX_MEMBERS members.
 */
export class PresenceHub {
  /** Every watcher per topic; those the native fan-out took are also in `native`. */
  private readonly watchers = new Map<string, Set<PresenceWatcher>>();
  private readonly native = new Map<string, Set<PresenceWatcher>>();
  private readonly pending = new Map<string, Map<string, Pending>>();
  /** The newest member count heard per watched topic. */
  private readonly counts = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly store: PresenceStore,
    private readonly maxMembers: number,
    private readonly onError: (error: unknown) => void,
    private readonly fanout?: PresenceFanout,
  ) {
    store.setListener((topic, action, member, count) => this.heard(topic, action, member, count));
  }

  enter(topic: string, member: PresenceMember): void {
    this.store.add(topic, member).catch(this.onError);
  }

  exit(topic: string, connectionId: string): void {
    this.store.remove(topic, connectionId).catch(this.onError);
  }

  /** Resolves once the store reports the topic's changes (a networked store subscribes first). */
  async watch(topic: string, watcher: PresenceWatcher): Promise<void> {
    let set = this.watchers.get(topic);
    const first = !set;
    if (!set) this.watchers.set(topic, (set = new Set()));
    set.add(watcher);
    if (this.fanout?.watchPresence(topic, watcher)) {
      let native = this.native.get(topic);
      if (!native) this.native.set(topic, (native = new Set()));
      native.add(watcher);
    }
    if (first) await this.store.watch(topic);
  }

  unwatch(topic: string, watcher: PresenceWatcher): void {
    const set = this.watchers.get(topic);
    if (!set?.delete(watcher)) return;
    const native = this.native.get(topic);
    if (native?.delete(watcher)) {
      this.fanout!.unwatchPresence(topic, watcher);
      if (native.size === 0) this.native.delete(topic);
    }
    if (set.size > 0) return;
    this.watchers.delete(topic);
    this.pending.delete(topic);
    this.counts.delete(topic);
    this.store.unwatch(topic).catch(this.onError);
  }

  async read(topic: string): Promise<PresenceResponse> {
    const members = await this.store.members(topic);
    const count = members.length;
    // A member without a user (auth off) is somebody nobody can tell apart: one user each.
    const users = new Set(members.map((m) => (m.user === undefined ? `\0${m.connectionId}` : m.user))).size;
    const truncated = count > this.maxMembers;
    return { topic, count, users, members: truncated ? [] : members, truncated };
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  private heard(topic: string, action: 'join' | 'leave', member: PresenceMember, count: number): void {
    if (!this.watchers.has(topic)) return;
    this.counts.set(topic, count);
    let batch = this.pending.get(topic);
    if (!batch) this.pending.set(topic, (batch = new Map()));
    const seen = batch.get(member.connectionId);
    if (seen) seen.last = action;
    else batch.set(member.connectionId, { first: action, last: action, member });
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), PRESENCE_COALESCE_MS);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  private flush(): void {
    this.timer = undefined;
    for (const [topic, batch] of this.pending) {
      const watchers = this.watchers.get(topic);
      if (!watchers || (this.counts.get(topic) ?? 0) > this.maxMembers) continue;
      const native = this.native.get(topic);
      for (const { first, last, member } of batch.values()) {
        // Connection ids are never reused: a join and a leave in one interval, in either order,
        // leave the topic as it was before it.
        if (first !== last) continue;
        const encoded = encode({ topic, action: last, member });
        for (const watcher of watchers) if (!watcher.closed && watcher.id !== member.connectionId && !native?.has(watcher)) watcher.presence(encoded);
        if (native) this.fanout!.publishPresence(topic, encoded.ws, member.connectionId);
      }
    }
    this.pending.clear();
  }
}
