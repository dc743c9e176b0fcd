import { PRESENCE_COALESCE_MS, type PresenceMember } from '@relaykit/contracts';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryPresence } from '../src/memory-presence.js';
import { type EncodedPresence, type PresenceFanout, PresenceHub, type PresenceWatcher } from '../src/presence-hub.js';

const member = (id: string, user?: string): PresenceMember => ({ connectionId: id, transport: 'ws', since: 1, ...(user ? { user } : {}) });

function watcher(id: string): PresenceWatcher & { got: string[]; sse: string[] } {
  const got: string[] = [];
  const sse: string[] = [];
  return {
    id,
    closed: false,
    got,
    sse,
    presence(change: EncodedPresence) {
      const frame = JSON.parse(change.ws) as { type: string; action: string; member: PresenceMember };
      expect(frame.type).toBe('presence');
      got.push(`${frame.action} ${frame.member.connectionId}`);
      sse.push(new TextDecoder().decode(change.sse));
    },
  };
}

describe('PresenceHub over MemoryPresence', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('delivers joins and leaves of others once per interval, never a watcher its own, as SSE events without id', async () => {
    const hub = new PresenceHub(new MemoryPresence(), 100, (e) => { throw e; });
    const w = watcher('w');
    await hub.watch('t', w);
    hub.enter('t', member('w'));
    hub.enter('t', member('a'));
    hub.enter('t', member('b'));
    await vi.advanceTimersByTimeAsync(PRESENCE_COALESCE_MS - 1);
    expect(w.got).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(w.got).toEqual(['join a', 'join b']);
    expect(w.sse[0]).toMatch(/^event: presence\ndata: \{"topic":"t","action":"join",/);
    expect(w.sse[0]).not.toMatch(/^id:/m);
    hub.exit('t', 'a');
    await vi.advanceTimersByTimeAsync(PRESENCE_COALESCE_MS);
    expect(w.got).toEqual(['join a', 'join b', 'leave a']);
  });

  it('hands the watchers a native fan-out takes to it: one publish per change, the member named, the rest looped', async () => {
    const published: string[] = [];
    const taken = new Set<string>();
    const fanout: PresenceFanout = {
      watchPresence: (topic, w) => (w.id.startsWith('native') ? (taken.add(`${topic} ${w.id}`), true) : false),
      unwatchPresence: (topic, w) => void taken.delete(`${topic} ${w.id}`),
      publishPresence: (topic, frame, memberId) => {
        const f = JSON.parse(frame) as { action: string; member: PresenceMember };
        published.push(`${topic} ${f.action} ${f.member.connectionId} except ${memberId}`);
      },
    };
    const hub = new PresenceHub(new MemoryPresence(), 100, (e) => { throw e; }, fanout);
    const native = watcher('native-1');
    const looped = watcher('sse-1');
    await hub.watch('t', native);
    await hub.watch('t', looped);
    expect([...taken]).toEqual(['t native-1']);
    hub.enter('t', member('a'));
    await vi.advanceTimersByTimeAsync(PRESENCE_COALESCE_MS);
    expect(native.got).toEqual([]);
    expect(looped.got).toEqual(['join a']);
    expect(published).toEqual(['t join a except a']);
    hub.unwatch('t', native);
    expect(taken.size).toBe(0);
    hub.exit('t', 'a');
    await vi.advanceTimersByTimeAsync(PRESENCE_COALESCE_MS);
    // No native watcher left: the change is looped only.
    expect(published).toEqual(['t join a except a']);
    expect(looped.got).toEqual(['join a', 'leave a']);
  });

  it('cancels a join and a leave of one connection within an interval', async () => {
    const hub = new PresenceHub(new MemoryPresence(), 100, () => {});
    const w = watcher('w');
    await hub.watch('t', w);
    hub.enter('t', member('flicker'));
    hub.exit('t', 'flicker');
    hub.enter('t', member('stays'));
    await vi.advanceTimersByTimeAsync(PRESENCE_COALESCE_MS);
    expect(w.got).toEqual(['join stays']);
  });

  it('counts members and distinct users, and truncates above maxMembers, stopping changes', async () => {
    const hub = new PresenceHub(new MemoryPresence(), 2, () => {});
    const w = watcher('w');
    await hub.watch('t', w);
    hub.enter('t', member('a', 'ann'));
    hub.enter('t', member('b', 'ann'));
    expect(await hub.read('t')).toMatchObject({ count: 2, users: 1, truncated: false });
    hub.enter('t', member('c'));
    await vi.advanceTimersByTimeAsync(PRESENCE_COALESCE_MS);
    expect(w.got, 'over the cap at the end of the interval: nothing sent').toEqual([]);
    expect(await hub.read('t')).toEqual({ topic: 't', count: 3, users: 2, members: [], truncated: true });
    hub.exit('t', 'c');
    await vi.advanceTimersByTimeAsync(PRESENCE_COALESCE_MS);
    expect(w.got).toEqual(['leave c']);
  });

  it('stops delivering to a watcher that unwatched', async () => {
    const hub = new PresenceHub(new MemoryPresence(), 100, () => {});
    const w = watcher('w');
    await hub.watch('t', w);
    hub.unwatch('t', w);
    hub.enter('t', member('a'));
    await vi.advanceTimersByTimeAsync(PRESENCE_COALESCE_MS);
    expect(w.got).toEqual([]);
    expect((await hub.read('t')).count).toBe(1);
  });
});
