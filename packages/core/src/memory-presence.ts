import type { PresenceListener, PresenceMember, PresenceStore } from '@relaykit/contracts';

/** Presence of one process: each topic's members in the order they came (a Map keeps it). */
export class MemoryPresence implements PresenceStore {
  private readonly topics = new Map<string, Map<string, PresenceMember>>();
  private listener: PresenceListener = () => {};

  setListener(listener: PresenceListener): void {
    this.listener = listener;
  }

  async add(topic: string, member: PresenceMember): Promise<void> {
    let members = this.topics.get(topic);
    if (!members) this.topics.set(topic, (members = new Map()));
    if (members.has(member.connectionId)) return;
    members.set(member.connectionId, member);
    this.listener(topic, 'join', member, members.size);
  }

  async remove(topic: string, connectionId: string): Promise<void> {
    const members = this.topics.get(topic);
    const member = members?.get(connectionId);
    if (!members || !member) return;
    members.delete(connectionId);
    if (members.size === 0) this.topics.delete(topic);
    this.listener(topic, 'leave', member, members.size);
  }

  async members(topic: string): Promise<PresenceMember[]> {
    return [...(this.topics.get(topic)?.values() ?? [])];
  }

  async watch(): Promise<void> {}
  async unwatch(): Promise<void> {}
}
