import type { PresenceListener, PresenceMember, PresenceStore } from '@relaykit/contracts';

/** What RedisPresence needs of RedisBroker: its scripts, and channels on its one subscriber connection. */
export interface PresenceLink {
  run(script: 'add' | 'remove' | 'refresh' | 'members', keys: string[], args: string[]): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  unsubscribe(channel: string, listener: (message: string) => void): Promise<void>;
}

/**
 * Presence shared by the cluster. Per topic (P = keyPrefix): `P pm:<topic>` HASH connection id ->
 * member JSON, `P pz:<topic>` ZSET connection id -> when it expires (Redis TIME, ms). The process
 * that holds a connection pushes its members' expiry `ttlMs` ahead every `refreshMs`, so the
 * members of a process that died (SIGKILL, a lost network) expire within ttlMs of its last
 * refresh; whoever touches the topic next (a read, another process's refresh) removes them and
 * publishes their leaves. Joins and leaves go to `P pc:<topic>` as `{"a":…,"n":count,"m":member}`.
 * Pub/sub is at-most-once: a process whose subscriber reconnected may miss some (presence is
 * eventually consistent; a read is always current).
 */
export class RedisPresence implements PresenceStore {
  private listener: PresenceListener = () => {};
  /** This process's members, per topic: connection id -> member JSON, for the refresh. */
  private readonly local = new Map<string, Map<string, string>>();
  private readonly handlers = new Map<string, (message: string) => void>();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly link: PresenceLink,
    private readonly prefix: string,
    private readonly refreshMs: number,
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    this.timer = setInterval(() => void this.refresh(), refreshMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Members expire this long after their last refresh: two refreshes may be missed (a busy event loop) before a live one flaps. */
  get ttlMs(): number {
    return 2 * this.refreshMs;
  }

  setListener(listener: PresenceListener): void {
    this.listener = listener;
  }

  async add(topic: string, member: PresenceMember): Promise<void> {
    const json = JSON.stringify(member);
    let members = this.local.get(topic);
    if (!members) this.local.set(topic, (members = new Map()));
    members.set(member.connectionId, json);
    await this.link.run('add', this.keys(topic), [String(this.ttlMs), this.channel(topic), member.connectionId, json]);
  }

  async remove(topic: string, connectionId: string): Promise<void> {
    const members = this.local.get(topic);
    if (!members?.delete(connectionId)) return;
    if (members.size === 0) this.local.delete(topic);
    await this.link.run('remove', this.keys(topic), [this.channel(topic), connectionId]);
  }

  async members(topic: string): Promise<PresenceMember[]> {
    const reply = (await this.link.run('members', this.keys(topic), [this.channel(topic)])) as string[];
    return reply.map((json) => JSON.parse(json) as PresenceMember).sort((a, b) => a.since - b.since);
  }

  async watch(topic: string): Promise<void> {
    if (this.handlers.has(topic)) return;
    const handler = (message: string) => {
      const { a, n, m } = JSON.parse(message) as { a: 'join' | 'leave'; n: number; m: PresenceMember };
      this.listener(topic, a, m, n);
    };
    this.handlers.set(topic, handler);
    try {
      await this.link.subscribe(this.channel(topic), handler);
    } catch (error) {
      if (this.handlers.get(topic) === handler) this.handlers.delete(topic);
      throw error;
    }
  }

  async unwatch(topic: string): Promise<void> {
    const handler = this.handlers.get(topic);
    if (!handler) return;
    this.handlers.delete(topic);
    await this.link.unsubscribe(this.channel(topic), handler);
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Pushes this process's members' expiry ahead (and re-adds any that expired while it was stalled). */
  private async refresh(): Promise<void> {
    // All at once: node-redis pipelines them on the one command connection.
    const calls: Promise<unknown>[] = [];
    for (const [topic, members] of this.local) {
      const args = [String(this.ttlMs), this.channel(topic)];
      for (const [id, json] of members) args.push(id, json);
      calls.push(this.link.run('refresh', this.keys(topic), args).catch(this.onError));
    }
    await Promise.all(calls);
  }

  private keys(topic: string): string[] {
    return [`${this.prefix}pm:${topic}`, `${this.prefix}pz:${topic}`];
  }

  private channel(topic: string): string {
    return `${this.prefix}pc:${topic}`;
  }
}
