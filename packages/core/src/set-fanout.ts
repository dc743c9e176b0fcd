import type { EncodedEvent, Fanout, Subscriber } from '@relaykit/contracts';

/**
 * Fan-out by a plain loop over each topic's subscribers: the fastest path on runtimes without
 * native pub/sub. Each subscriber receives the same pre-encoded bytes.
 */
export class SetFanout<S extends Subscriber = Subscriber> implements Fanout<S> {
  private readonly topics = new Map<string, Set<S>>();

  join(topic: string, subscriber: S): void {
    let set = this.topics.get(topic);
    if (!set) {
      set = new Set();
      this.topics.set(topic, set);
    }
    set.add(subscriber);
  }

  leave(topic: string, subscriber: S): void {
    const set = this.topics.get(topic);
    if (!set) return;
    set.delete(subscriber);
    if (set.size === 0) this.topics.delete(topic);
  }

  publish(topic: string, event: EncodedEvent): number {
    const set = this.topics.get(topic);
    if (!set) return 0;
    const count = set.size;
    // Deleting from a Set while iterating it is well defined, so a subscriber closed mid-loop is safe.
    for (const subscriber of set) subscriber.deliver(event);
    return count;
  }
}
