import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../src/adapter.js';

const input = (data: unknown = null) => ({ type: 't', data });
const idsOf = (events: { envelope: { id: string } }[]) => events.map((e) => e.envelope.id);

describe('MemoryBroker history bounds', () => {
  it('keeps at most maxHistories, dropping the least recently published idle one first', async () => {
    const broker = new MemoryBroker({ historySize: 5, epoch: 'e1', maxHistories: 3 });
    for (const topic of ['a', 'b', 'c']) await broker.publish(topic, input()); // e1-1..3
    await broker.publish('a', input()); // e1-4: a is now the most recent
    await broker.publish('d', input()); // e1-5: b goes
    expect(broker.historyStats().histories).toBe(3);
    expect(await broker.replay(['b'], 'e1-1')).toMatchObject({ resetTopics: ['b'], events: [] });
    // From b's last id or later nothing was lost, and a topic that never had events is not reset.
    expect((await broker.replay(['b'], 'e1-2')).resetTopics).toEqual([]);
    expect((await broker.replay(['never'], 'e1-0')).resetTopics).toEqual([]);
    expect(idsOf((await broker.replay(['a', 'c', 'd'], 'e1-0')).events)).toEqual(['e1-1', 'e1-3', 'e1-4', 'e1-5']);
  });

  it('drops held histories only after every idle one', async () => {
    const broker = new MemoryBroker({ historySize: 5, epoch: 'e1', maxHistories: 2 });
    await broker.publish('held', input()); // e1-1
    await broker.watch('held');
    await broker.publish('x', input());
    await broker.publish('y', input());
    await broker.publish('z', input());
    expect(idsOf((await broker.replay(['held'], 'e1-0')).events)).toEqual(['e1-1']);
    // Released, it is the most recently active idle history, so the older idle one goes first.
    await broker.unwatch('held');
    await broker.publish('w', input());
    expect((await broker.replay(['held'], 'e1-0')).resetTopics).toEqual([]);
    expect((await broker.replay(['z'], 'e1-0')).resetTopics).toEqual(['z']);
  });

  it('keeps the bytes of all histories under maxBytes, idle histories first, then the oldest events', async () => {
    const big = 'x'.repeat(1000);
    const broker = new MemoryBroker({ historySize: 100, epoch: 'e1', maxBytes: 5000 });
    await broker.publish('idle', input(big)); // e1-1
    for (let i = 0; i < 6; i++) await broker.publish('busy', input(big)); // e1-2..7
    const stats = broker.historyStats();
    expect(stats.bytes).toBeLessThanOrEqual(5000);
    expect(stats.histories).toBe(1);
    const replay = await broker.replay(['busy', 'idle'], 'e1-1');
    expect(replay.resetTopics).toEqual(['busy']);
    expect(idsOf(replay.events).at(-1)).toBe('e1-7');
    expect((await broker.replay(['idle'], 'e1-1')).resetTopics).toEqual([]);
  });

  it('drops an idle history after ttlMs without a publish, and a resume from before it is reset', async () => {
    let now = 1_000;
    const broker = new MemoryBroker({ historySize: 5, epoch: 'e1', ttlMs: 100, now: () => now });
    await broker.publish('old', input());
    await broker.publish('kept', input());
    await broker.watch('kept');
    now += 150;
    expect(broker.historyStats().histories).toBe(1);
    expect((await broker.replay(['old'], 'e1-0')).resetTopics).toEqual(['old']);
    expect(idsOf((await broker.replay(['kept'], 'e1-0')).events)).toEqual(['e1-2']);
  });

  it('remembers dropped topics by a watermark once there are more than maxHistories of them', async () => {
    const broker = new MemoryBroker({ historySize: 5, epoch: 'e1', maxHistories: 1 });
    for (const topic of ['a', 'b', 'c', 'd']) await broker.publish(topic, input()); // e1-1..4
    // Only c's tombstone is kept; a's and b's gave way to the watermark, b's last id (e1-2).
    expect((await broker.replay(['a'], 'e1-0')).resetTopics).toEqual(['a']);
    expect((await broker.replay(['b'], 'e1-1')).resetTopics).toEqual(['b']);
    expect((await broker.replay(['b'], 'e1-2')).resetTopics).toEqual([]);
    // A topic published again starts from what was lost before it.
    await broker.publish('b', input()); // e1-5
    expect((await broker.replay(['b'], 'e1-1')).resetTopics).toEqual(['b']);
  });

  it('costs memory in proportion to what a history holds, not to historySize', async () => {
    const broker = new MemoryBroker({ historySize: 1000, epoch: 'e1' });
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20_000; i++) await broker.publish(`t${i}`, input(i));
    // Preallocated, 20,000 histories of 1,000 slots in three arrays were ~480 MB (+670 MB RSS measured).
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(100 * 1024 * 1024);
    expect(broker.historyStats().histories).toBe(20_000);
  });
});
