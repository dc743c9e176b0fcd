import {
  type Broker,
  type EncodedEvent,
  type PublishInput,
  type ReplayResult,
  parseEventId,
} from '@relaykit/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Hub, MemoryBroker, Metrics, SetFanout, type TopicHolder } from '../src/adapter.js';

/**
 * A broker whose watch and replay answer after a delay, as a networked broker would: replay reads
 * the history at once and answers later, so live events published meanwhile race the answer.
 */
class SlowBroker extends MemoryBroker implements Broker {
  delays: number[] = [];
  private wait() {
    return new Promise<void>((resolve) => setTimeout(resolve, this.delays.shift() ?? 0));
  }
  override async watch(): Promise<void> {
    await this.wait();
  }
  override async replay(topics: readonly string[], afterId: string): Promise<ReplayResult> {
    const result = await super.replay(topics, afterId);
    await this.wait();
    return result;
  }
}

class Recorder implements TopicHolder {
  readonly transport = 'ws' as const;
  closed = false;
  readonly seen: string[] = [];
  deliver(event: EncodedEvent) {
    this.seen.push(event.envelope.id);
    return 1;
  }
}

const input: PublishInput = { type: 't', data: null };

/** What a connection does with its join: deliver the backlog, then take these topics live. */
async function joinLive(hub: Hub<Recorder>, sub: Recorder, topics: string[], lastEventId: string | undefined, live = topics): Promise<boolean> {
  const join = await hub.join(sub, topics, lastEventId);
  if (!join) return false;
  for (let event = join.next(); event; event = join.next()) sub.deliver(event);
  join.goLive(live);
  return true;
}

describe('Hub join: history to live with no gap and no duplicate', () => {
  it('holds for any interleaving of publishes with a slow watch and replay', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 2, maxLength: 2 }),
        async (before, during, delays) => {
          const broker = new SlowBroker({ historySize: 100, epoch: 'e1' });
          const hub = new Hub(broker, new SetFanout<Recorder>(), new Metrics(() => 0));
          for (let i = 0; i < before; i++) await broker.publish('a', input);
          const resumeFrom = broker.position();
          for (let i = 0; i < 2; i++) await broker.publish('a', input); // missed while away
          broker.delays = [...delays];
          const sub = new Recorder();
          const joining = joinLive(hub, sub, ['a'], resumeFrom);
          const publishing = (async () => {
            for (let i = 0; i < during; i++) {
              await broker.publish('a', input);
              await new Promise((r) => setTimeout(r, 1));
            }
          })();
          expect(await joining).toBe(true);
          await publishing;
          await broker.publish('a', input);
          const expected = [];
          for (let seq = parseEventId(resumeFrom)!.seq + 1; seq <= parseEventId(broker.position())!.seq; seq++) expected.push(`e1-${seq}`);
          expect(sub.seen).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('is live by the time the join resolves: a publish in the very next microtask is delivered', async () => {
    const broker = new MemoryBroker({ historySize: 10, epoch: 'e1' });
    const metrics = new Metrics(() => 0);
    const hub = new Hub(broker, new SetFanout<Recorder>(), metrics);
    await broker.publish('a', input);
    const sub = new Recorder();
    const joining = joinLive(hub, sub, ['a'], 'e1-0');
    // Registered first, so it runs before anything else awaiting the join.
    const racing = joining.then(() => broker.publish('a', input));
    await joining;
    await racing;
    await broker.publish('a', input);
    expect(sub.seen).toEqual(['e1-1', 'e1-2', 'e1-3']);
    expect(metrics.delivered).toBe(2);
  });

  it('leaves nothing pending when the handover takes no topic live', async () => {
    const broker = new MemoryBroker({ historySize: 10, epoch: 'e1' });
    const hub = new Hub(broker, new SetFanout<Recorder>(), new Metrics(() => 0));
    const sub = new Recorder();
    await joinLive(hub, sub, ['a', 'b'], undefined, []);
    await broker.publish('a', input);
    expect(sub.seen).toEqual([]);
    hub.leave(sub, 'a');
    hub.leave(sub, 'b');
    expect((hub as unknown as { pending: Set<unknown> }).pending.size).toBe(0);
    expect(hub.topicCount).toBe(0);
  });

  it('counts deliveries and releases topics when the last holder leaves', async () => {
    const broker = new MemoryBroker({ historySize: 10, epoch: 'e1' });
    const metrics = new Metrics(() => 0);
    const hub = new Hub(broker, new SetFanout<Recorder>(), metrics);
    const [a, b] = [new Recorder(), new Recorder()];
    for (const sub of [a, b]) await joinLive(hub, sub, ['t'], undefined);
    expect(hub.topicCount).toBe(1);
    await broker.publish('t', input);
    expect(metrics.delivered).toBe(2);
    hub.leave(a, 't');
    await broker.publish('t', input);
    expect(metrics.delivered).toBe(3);
    expect(a.seen).toEqual(['e1-1']);
    hub.leave(b, 't');
    expect(hub.topicCount).toBe(0);
  });

  it('hands nothing over to a subscriber that closed while joining', async () => {
    const broker = new SlowBroker({ historySize: 10, epoch: 'e1' });
    broker.delays = [5];
    const hub = new Hub(broker, new SetFanout<Recorder>(), new Metrics(() => 0));
    const sub = new Recorder();
    const joining = hub.join(sub, ['t'], undefined);
    sub.closed = true;
    hub.leave(sub, 't');
    expect(await joining).toBeUndefined();
    expect(hub.topicCount).toBe(0);
  });
});
