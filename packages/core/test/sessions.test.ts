import { type Config, type PublishInput, parseConfig } from '@relaykit/contracts';
import { describe, expect, it } from 'vitest';
import { Hub, MemoryBroker, Metrics, PresenceHub, type Session, type SessionHost, SetFanout, SseSession, type SseSink, type WsPeer, WsSession } from '../src/adapter.js';
import { PollWaiter } from '../src/poll.js';
import { type Logger, allowAll } from '../src/index.js';
import { frameLimitsOf } from '../src/token-bucket.js';

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, enabled: () => false };

/** A session host made of real core parts and no server: what a session sees, and nothing else. */
function host(env: Record<string, string> = {}): SessionHost & { forgotten: Session[] } {
  const parsed = parseConfig({ HEARTBEAT_MS: '1000', MAX_JSON_DEPTH: '3', ...env });
  if (!parsed.ok) throw new Error(parsed.message);
  const config: Config = parsed.config;
  const broker = new MemoryBroker({ historySize: 10, epoch: 'e1' });
  const metrics = new Metrics(() => 0);
  const forgotten: Session[] = [];
  return {
    config,
    serverName: 'test',
    hub: new Hub(broker, new SetFanout(), metrics, config.maxBufferedBytes),
    presence: new PresenceHub(broker.presence, config.presenceMaxMembers, () => {}),
    auth: allowAll,
    metrics,
    log: silent,
    frameLimits: frameLimitsOf(config),
    publish: (topic: string, input: PublishInput) => broker.publish(topic, input),
    forget: (session: Session) => forgotten.push(session),
    authenticateToken: () => Promise.reject(new Error('no token auth in this host')),
    forgotten,
  };
}

class FakePeer implements WsPeer {
  readonly frames: Record<string, unknown>[] = [];
  closes: Array<[number, string]> = [];
  pings = 0;
  terminated = false;
  bufferedAmount = 0;
  send(text: string): number {
    this.frames.push(JSON.parse(text) as Record<string, unknown>);
    return text.length;
  }
  close(code: number, reason: string): void {
    this.closes.push([code, reason]);
  }
  terminate(): void {
    this.terminated = true;
  }
  ping(): void {
    this.pings++;
  }
  ofType(type: string) {
    return this.frames.filter((f) => f.type === type);
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('WsSession', () => {
  it('opens with a welcome that states the limits, including maxJsonDepth', () => {
    const peer = new FakePeer();
    new WsSession(host(), peer, { id: 'p' }, 'c1').open();
    expect(peer.frames[0]).toMatchObject({ type: 'welcome', connectionId: 'c1', maxJsonDepth: 3, position: 'e1-0', server: 'test' });
  });

  it('refuses data deeper than MAX_JSON_DEPTH with an error frame echoing ref, and stays usable', async () => {
    const peer = new FakePeer();
    const session = new WsSession(host(), peer, { id: 'p' }, 'c1');
    session.onText('{"type":"publish","topic":"t","event":{"type":"x","data":[[[[1]]]]},"ref":7}');
    expect(peer.ofType('error')).toEqual([expect.objectContaining({ code: 'bad_request', ref: 7 })]);
    session.onText('{"type":"subscribe","topics":["t"],"ref":1}');
    await settle();
    session.onText('{"type":"publish","topic":"t","event":{"type":"x","data":[[[1]]]},"ref":8}');
    await settle();
    expect(peer.ofType('ack')).toEqual([expect.objectContaining({ ref: 8, id: 'e1-1' })]);
    expect(peer.ofType('event')).toHaveLength(1);
    expect(peer.closes).toEqual([]);
  });

  it('refuses publishes over PUBLISH_RATE with rate_limited echoing ref, and at the 10th refusal closes with 4029 after acking what it accepted', async () => {
    const h = host({ PUBLISH_RATE: '1', PUBLISH_BURST: '2' });
    const peer = new FakePeer();
    const session = new WsSession(h, peer, { id: 'p' }, 'c1');
    for (let ref = 1; ref <= 15; ref++) session.onText(`{"type":"publish","topic":"t","event":{"type":"x"},"ref":${ref}}`);
    // The close waits for the acks of the two accepted publishes, which the broker answers later.
    expect(peer.closes).toEqual([]);
    await settle();
    expect(peer.ofType('ack').map((f) => f.ref)).toEqual([1, 2]);
    expect(peer.ofType('error')).toEqual(Array.from({ length: 10 }, (_, i) => expect.objectContaining({ code: 'rate_limited', ref: i + 3 })));
    expect(peer.closes).toEqual([[4029, 'rate limited']]);
    expect(h.metrics.rateLimited).toBe(10);
    expect(h.forgotten).toEqual([session]);
  });

  it('refuses subscribes over SUBSCRIBE_RATE, but never unsubscribes or pings', async () => {
    const peer = new FakePeer();
    const session = new WsSession(host({ SUBSCRIBE_RATE: '2' }), peer, { id: 'p' }, 'c1');
    for (let i = 0; i < 4; i++) {
      session.onText(`{"type":"subscribe","topics":["t${i}"],"ref":"s${i}"}`);
      session.onText(`{"type":"unsubscribe","topics":["t${i}"],"ref":"u${i}"}`);
      session.onText(`{"type":"ping","ref":"p${i}"}`);
    }
    await settle();
    expect(peer.ofType('error').map((f) => f.ref)).toEqual(['s2', 's3']);
    expect(peer.ofType('unsubscribed')).toHaveLength(4);
    expect(peer.ofType('pong')).toHaveLength(4);
    expect(peer.closes).toEqual([]);
  });

  it('pings on a heartbeat and closes a peer that missed the previous one with 1001', () => {
    const h = host();
    const peer = new FakePeer();
    const session = new WsSession(h, peer, { id: 'p' }, 'c1');
    session.beat();
    session.onPong();
    session.beat();
    expect(peer.pings).toBe(2);
    session.beat();
    expect(peer.closes).toEqual([[1001, 'No response from ping frame.']]);
    expect(peer.terminated).toBe(true);
    expect(h.forgotten).toEqual([session]);
    expect(h.metrics.heartbeatTimeouts).toBe(1);
  });

  it('closes with 1001 on shutdown and leaves every topic', async () => {
    const h = host();
    const peer = new FakePeer();
    const session = new WsSession(h, peer, { id: 'p' }, 'c1');
    session.onText('{"type":"subscribe","topics":["a","b"]}');
    await settle();
    expect(h.hub.topicCount).toBe(2);
    session.shutdown();
    expect(peer.closes).toEqual([[1001, 'server shutting down']]);
    expect(h.hub.topicCount).toBe(0);
  });
});

class FakeSink implements SseSink {
  text = '';
  ended = false;
  bufferedAmount = 0;
  write(chunk: Uint8Array): number {
    this.text += new TextDecoder().decode(chunk);
    return chunk.byteLength;
  }
  end(): void {
    this.ended = true;
  }
}

describe('SseSession', () => {
  it('sends the preamble, the starting position, then live events; a heartbeat is a keepalive comment', async () => {
    const h = host({ SSE_RETRY_MS: '1500' });
    const sink = new FakeSink();
    const session = new SseSession(h, ['t'], undefined);
    await session.start(sink);
    expect(sink.text).toBe(': relaykit stream open\n\nretry: 1500\n\nid: e1-0\n\n');
    await h.publish('t', { type: 'x', data: 1 });
    expect(sink.text).toContain('id: e1-1\nevent: x\n');
    session.beat();
    expect(sink.text.endsWith(': keepalive\n\n')).toBe(true);
  });

  it('never announces a position ahead of an event it has yet to send: one published during the join comes before the id: line', async () => {
    const h = host();
    const sink = new FakeSink();
    const started = new SseSession(h, ['t'], undefined).start(sink);
    // Published while the join waits for the broker's watch: the position the join reads counts it.
    const published = h.publish('t', { type: 'x', data: 1 });
    await Promise.all([started, published]);
    await h.publish('t', { type: 'x', data: 2 });
    // What a client holds as Last-Event-ID after each id: line; every event must come after it.
    let held = '';
    const ids: string[] = [];
    for (const message of sink.text.split('\n\n')) {
      const id = /^id: (.*)$/m.exec(message)?.[1];
      if (id === undefined) continue;
      if (/^event: /m.test(message)) {
        expect(h.hub.broker.compareIds(id, held || 'e1-0')).toBeGreaterThan(0);
        ids.push(id);
      } else expect(h.hub.broker.compareIds(id, held || 'e1-0')).toBeGreaterThanOrEqual(0);
      held = id;
    }
    expect(ids).toEqual(['e1-1', 'e1-2']);
  });

  it('writes nothing before its join is made (no keepalive, no presence), then opens: an event published on the opening comment arrives', async () => {
    const h = host();
    const sink = new FakeSink();
    const join = h.hub.join.bind(h.hub);
    let release = () => {};
    // A join that waits, as one on Redis waits for its SUBSCRIBE to be confirmed.
    h.hub.join = (...args) => new Promise((resolve) => (release = () => resolve(join(...args))));
    const session = new SseSession(h, ['t'], undefined, undefined, undefined, 'c1', undefined, true);
    const started = session.start(sink);
    await settle();
    session.beat();
    session.presence({ ws: '', sse: new TextEncoder().encode('event: presence\ndata: {}\n\n') });
    expect(sink.text).toBe('');
    release();
    await started;
    expect(sink.text.startsWith(': relaykit stream open\n\n')).toBe(true);
    const { id } = (await h.publish('t', { type: 'x', data: 1 })).envelope;
    expect(sink.text).toContain(`id: ${id}\nevent: x\n`);
    session.onClose();
  });

  it('resumes with a reset for an id it cannot interpret, then replays what is held', async () => {
    const h = host();
    await h.publish('t', { type: 'x', data: 1 });
    const sink = new FakeSink();
    await new SseSession(h, ['t'], 'garbage').start(sink);
    expect(sink.text).toContain('id: e1-1\nevent: reset\ndata: {"code":"history_unavailable","topics":["t"]}\n\n');
    expect(sink.text.indexOf('event: reset')).toBeLessThan(sink.text.indexOf('event: x'));
  });

  it('ends as a slow consumer once its unsent bytes pass MAX_BUFFERED_BYTES', async () => {
    const h = host({ MAX_BUFFERED_BYTES: '1024' });
    const sink = new FakeSink();
    sink.write = (chunk) => {
      sink.text += new TextDecoder().decode(chunk);
      sink.bufferedAmount += chunk.byteLength;
      return -1;
    };
    const session = new SseSession(h, ['t'], undefined);
    await session.start(sink);
    for (let i = 0; i < 20 && !sink.ended; i++) await h.publish('t', { type: 'x', data: 'y'.repeat(100) });
    expect(sink.ended).toBe(true);
    expect(h.metrics.slowConsumerCloses).toBe(1);
    expect(h.forgotten).toEqual([session]);
    // PROTOCOL.md 3: the end says why, last (it is queued behind what the client has not read).
    expect(sink.text.endsWith('event: error\ndata: {"code":"slow_consumer"}\n\n')).toBe(true);
  });

  it('says why before every server-side end: shutting_down (after a last retry: hint), resume_required', async () => {
    const h = host({ SSE_RETRY_MS: '1500' });
    const bye = new FakeSink();
    const leaving = new SseSession(h, ['t'], undefined);
    await leaving.start(bye);
    leaving.shutdown();
    expect(bye.text.endsWith('retry: 1500\n\nevent: error\ndata: {"code":"shutting_down"}\n\n')).toBe(true);
    expect(bye.ended).toBe(true);
    const gap = new FakeSink();
    const resuming = new SseSession(h, ['t'], undefined);
    await resuming.start(gap);
    resuming.resumeRequired();
    expect(gap.text.endsWith('\n\nevent: error\ndata: {"code":"resume_required"}\n\n')).toBe(true);
    expect(gap.ended).toBe(true);
    // A second end sends nothing more.
    resuming.shutdown();
    expect(gap.text.match(/event: error/g)).toHaveLength(1);
    expect(h.forgotten).toEqual([leaving, resuming]);
  });

  it('tells a stream ended before its first byte why, once it starts', async () => {
    const h = host();
    const sink = new FakeSink();
    const session = new SseSession(h, ['t'], undefined);
    session.shutdown();
    await session.start(sink);
    expect(sink.text).toMatch(/^: relaykit stream open\n\nretry: \d+\n\nevent: error\ndata: \{"code":"shutting_down"\}\n\n$/);
    expect(sink.ended).toBe(true);
    expect(h.hub.topicCount).toBe(0);
  });

  it('ends with broker_unavailable when the broker fails as the stream opens', async () => {
    const h = host();
    h.hub.join = () => Promise.reject(new Error('broker down'));
    const sink = new FakeSink();
    await new SseSession(h, ['t'], undefined).start(sink);
    expect(sink.text.endsWith('event: error\ndata: {"code":"broker_unavailable"}\n\n')).toBe(true);
    expect(sink.ended).toBe(true);
  });
});

describe('PollWaiter', () => {
  it('answers at once when told to while its join is still pending (a slow broker read), not after wait', async () => {
    const h = host();
    const { id } = (await h.publish('t', { type: 'x', data: 1 })).envelope;
    const join = h.hub.join.bind(h.hub);
    let release!: () => void;
    const pending = new Promise<void>((resolve) => (release = resolve));
    h.hub.join = async (...args) => {
      await pending;
      return join(...args);
    };
    const waiter = new PollWaiter(h, 't');
    const started = Date.now();
    const answer = waiter.run(id, 30_000, new AbortController().signal);
    waiter.answerNow();
    release();
    expect(await answer).toEqual({ events: [], cursor: id });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(h.hub.topicCount).toBe(0);
  });
});
