import { parseEventId } from '@relaykit/contracts';
import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../src/adapter.js';

const seqOf = (id: string) => parseEventId(id)!.seq;

describe('MemoryBroker', () => {
  it('assigns one increasing sequence across topics', async () => {
    const broker = new MemoryBroker({ historySize: 10, epoch: 'e1' });
    const ids = [];
    for (const topic of ['a', 'b', 'a', 'c']) ids.push((await broker.publish(topic, { type: 't', data: null })).envelope.id);
    expect(ids).toEqual(['e1-1', 'e1-2', 'e1-3', 'e1-4']);
    expect(broker.position()).toBe('e1-4');
  });

  it('replays what came after an id, merged across topics in id order', async () => {
    const broker = new MemoryBroker({ historySize: 10, epoch: 'e1' });
    for (const topic of ['a', 'b', 'a', 'c', 'b']) await broker.publish(topic, { type: 't', data: topic });
    const { events, resetTopics } = await broker.replay(['a', 'b'], 'e1-1');
    expect(events.map((e) => e.envelope.id)).toEqual(['e1-2', 'e1-3', 'e1-5']);
    expect(resetTopics).toEqual([]);
  });

  it('signals reset only for topics whose missed events were evicted', async () => {
    const broker = new MemoryBroker({ historySize: 2, epoch: 'e1' });
    for (let i = 0; i < 5; i++) await broker.publish('busy', { type: 't', data: i });
    await broker.publish('quiet', { type: 't', data: 'q' }); // e1-6
    const fromStart = await broker.replay(['busy', 'quiet'], 'e1-1');
    expect(fromStart.resetTopics).toEqual(['busy']);
    expect(fromStart.events.map((e) => e.envelope.id)).toEqual(['e1-4', 'e1-5', 'e1-6']);
    const recent = await broker.replay(['busy'], 'e1-3');
    expect(recent.resetTopics).toEqual([]);
    expect(recent.events.map((e) => seqOf(e.envelope.id))).toEqual([4, 5]);
  });

  it('treats ids from another epoch, malformed or from the future as uninterpretable', async () => {
    const broker = new MemoryBroker({ historySize: 5, epoch: 'e2' });
    await broker.publish('a', { type: 't', data: 1 });
    for (const id of ['e1-1', 'garbage', 'e2-99']) {
      const { events, resetTopics } = await broker.replay(['a', 'empty'], id);
      expect(resetTopics).toEqual(['a', 'empty']);
      expect(events.map((e) => e.envelope.id)).toEqual(['e2-1']);
    }
  });

  it('answers a repeated idempotency key with the original event for IDEMPOTENCY_TTL_MS, whatever the history holds', async () => {
    let now = 1000;
    const broker = new MemoryBroker({ historySize: 1, epoch: 'e1', idempotencyTtlMs: 500, now: () => now });
    const seen: string[] = [];
    broker.setListener((e) => seen.push(e.envelope.id));
    const first = await broker.publish('a', { type: 't', data: 1, key: 'k' });
    // The keyed event leaves the one-event history; its key is still remembered.
    await broker.publish('a', { type: 't', data: 2 });
    expect(await broker.publish('a', { type: 't', data: 3, key: 'k' })).toEqual({ envelope: first.envelope, duplicate: true });
    // Keys are per topic.
    expect((await broker.publish('b', { type: 't', data: 4, key: 'k' })).duplicate).toBe(false);
    expect(seen).toEqual(['e1-1', 'e1-2', 'e1-3']);
    now += 501;
    expect((await broker.publish('a', { type: 't', data: 5, key: 'k' })).duplicate).toBe(false);
  });

  it('remembers keys even with HISTORY_SIZE=0, and at most idempotencyMaxKeys of them', async () => {
    const broker = new MemoryBroker({ historySize: 0, epoch: 'e1', idempotencyMaxKeys: 2 });
    for (const key of ['k1', 'k2', 'k3']) await broker.publish('a', { type: 't', key });
    expect((await broker.publish('a', { type: 't', key: 'k3' })).duplicate).toBe(true);
    expect((await broker.publish('a', { type: 't', key: 'k2' })).duplicate).toBe(true);
    expect((await broker.publish('a', { type: 't', key: 'k1' })).duplicate).toBe(false);
  });

  it('with HISTORY_SIZE=0 keeps nothing and resets any resume that missed events', async () => {
    const broker = new MemoryBroker({ historySize: 0, epoch: 'e1' });
    await broker.publish('a', { type: 't', data: 1 });
    expect(await broker.replay(['a'], 'e1-0')).toEqual({ events: [], resetTopics: ['a'] });
    expect(await broker.replay(['a'], 'e1-1')).toEqual({ events: [], resetTopics: [] });
  });
});
