import type { Envelope } from '@relaykit/contracts';

/**
 * What a client needs to resume without loss or duplicates. Ids are opaque: they are only stored
 * and compared for equality; the server orders them.
 *
 * - `lastId` is the id of the last event received on any topic (or the position a reset named):
 *   SSE and WebSocket resume every topic from it, since one connection delivers in id order.
 * - per-topic cursors serve long polling, which runs one request per topic.
 * - a bounded set of recently seen ids drops anything delivered twice (overlapping replays).
 */
export class ResumeState {
  lastId: string | undefined;
  private readonly cursors = new Map<string, string>();
  private readonly seen = new Set<string>();
  private readonly order: string[] = [];
  private head = 0;

  constructor(private readonly window = 4096) {}

  /** Records a received event; returns false if it was already seen (drop it). */
  accept(envelope: Envelope): boolean {
    if (this.seen.has(envelope.id)) return false;
    this.remember(envelope.id);
    this.lastId = envelope.id;
    this.cursors.set(envelope.topic, envelope.id);
    return true;
  }

  hasSeen(id: string): boolean {
    return this.seen.has(id);
  }

  /** The server could not resume `topics`; what follows starts at `position`. */
  reset(position: string | undefined, topics: readonly string[]): void {
    if (position === undefined) return;
    this.lastId = position;
    for (const topic of topics) this.cursors.set(topic, position);
  }

  /** Resume every topic from `id` (a history page's position), those subscribed from now included. */
  startAt(id: string): void {
    this.lastId = id;
    for (const topic of this.cursors.keys()) this.cursors.set(topic, id);
  }

  /** A long-poll answer's cursor for one topic. */
  setCursor(topic: string, cursor: string): void {
    this.cursors.set(topic, cursor);
  }

  /** A position the server announced (WebSocket welcome): the resume point until an event arrives. */
  baseline(position: string): void {
    this.lastId ??= position;
  }

  /** A topic subscribed from now: long polling starts it at the server's position, not at lastId. */
  addTopic(topic: string): void {
    if (!this.cursors.has(topic)) this.cursors.set(topic, '');
  }

  /** Where to resume one topic by long polling: its own cursor, else the global last id. */
  cursorFor(topic: string): string | undefined {
    const cursor = this.cursors.get(topic);
    if (cursor === '') return undefined;
    return cursor ?? this.lastId;
  }

  forgetTopic(topic: string): void {
    this.cursors.delete(topic);
  }

  private remember(id: string): void {
    this.seen.add(id);
    if (this.order.length < this.window) {
      this.order.push(id);
      return;
    }
    this.seen.delete(this.order[this.head]!);
    this.order[this.head] = id;
    this.head = (this.head + 1) % this.window;
  }
}
