import type { EncodedEvent } from '@relaykit/contracts';
import { describe, expect, it } from 'vitest';
import { type BacklogSink, Hub, MemoryBroker, Metrics, SetFanout, type TopicHolder, sendPaced } from '../src/adapter.js';

/** A connection whose send buffer fills with what it is sent and drains only when told to. */
class StalledClient implements TopicHolder, BacklogSink {
  readonly transport = 'ws' as const;
  closed = false;
  droppedSlow = false;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  wants = () => true;
  sendBacklog(event: EncodedEvent): void {
    this.sent.push(event.envelope.id);
    this.bufferedAmount += event.ws.length;
  }
  deliver(event: EncodedEvent): number {
    this.sendBacklog(event);
    return 1;
  }
  dropSlowConsumer(): void {
    this.droppedSlow = true;
    this.closed = true;
  }
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(condition()).toBe(true);
};

async function setup(maxBufferedBytes: number) {
  const broker = new MemoryBroker({ historySize: 1000, epoch: 'e1' });
  const hub = new Hub(broker, new SetFanout<StalledClient>(), new Metrics(() => 0), maxBufferedBytes);
  const data = 'x'.repeat(1000);
  for (let i = 0; i < 100; i++) await broker.publish('t', { type: 't', data });
  return { broker, hub, data };
}

describe('paced replay', () => {
  it('sends a backlog only as the client drains, then live events after it, with no gap or duplicate', async () => {
    const { broker, hub, data } = await setup(1_000_000);
    const client = new StalledClient();
    const join = (await hub.join(client, ['t'], 'e1-0'))!;
    let live = false;
    sendPaced(join, client, 10_000, () => {
      live = true;
      join.goLive(['t']);
    });
    // About lowWater plus one event went out; the rest waits for the client.
    const first = client.sent.length;
    expect(first).toBeGreaterThan(5);
    expect(first).toBeLessThan(15);
    await broker.publish('t', { type: 't', data }); // e1-101, queued behind the replay
    await new Promise((r) => setTimeout(r, 50));
    expect(client.sent.length).toBe(first);
    // The client reads: the pace picks up, the backlog and the queued live event follow in order.
    const drain = setInterval(() => (client.bufferedAmount = 0), 5);
    await until(() => live);
    clearInterval(drain);
    await broker.publish('t', { type: 't', data }); // e1-102, live
    expect(client.sent).toEqual(Array.from({ length: 102 }, (_, i) => `e1-${i + 1}`));
  });

  it('drops the client as a slow consumer when live events queued behind its replay outgrow the bound', async () => {
    const { broker, hub, data } = await setup(20_000);
    const client = new StalledClient();
    const join = (await hub.join(client, ['t'], 'e1-0'))!;
    sendPaced(join, client, 10_000, () => join.goLive(['t']));
    for (let i = 0; i < 30 && !client.droppedSlow; i++) await broker.publish('t', { type: 't', data });
    expect(client.droppedSlow).toBe(true);
    expect(hub.pending.size).toBe(0);
  });

  it('goes live in the same turn when there is nothing to replay', async () => {
    const { broker, hub } = await setup(1_000_000);
    const client = new StalledClient();
    const join = (await hub.join(client, ['t'], broker.position()))!;
    let live = false;
    sendPaced(join, client, 10_000, () => {
      live = true;
      join.goLive(['t']);
    });
    expect(live).toBe(true);
  });
});
