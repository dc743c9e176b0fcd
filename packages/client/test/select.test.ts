import { describe, expect, test } from 'vitest';
import { TransportSelector, transportCandidates } from '../src/select.ts';

const all = { sse: true, ws: true, poll: true };

describe('transportCandidates', () => {
  test('auto prefers SSE, then WebSocket, then long polling', () => {
    expect(transportCandidates('auto', all)).toEqual(['sse', 'ws', 'poll']);
  });
  test('drops what the platform lacks', () => {
    expect(transportCandidates('auto', { sse: false, ws: true, poll: true })).toEqual(['ws', 'poll']);
    expect(transportCandidates(['ws', 'sse'], { sse: true, ws: false, poll: true })).toEqual(['sse']);
  });
  test('an explicit transport is the only candidate', () => {
    expect(transportCandidates('ws', all)).toEqual(['ws']);
    expect(() => transportCandidates('ws', { ...all, ws: false })).toThrow(/none of the transports/);
  });
});

describe('TransportSelector', () => {
  test('falls back in order when a transport fails before opening, saying why', () => {
    const s = new TransportSelector(['sse', 'ws', 'poll'], false);
    expect(s.current).toBe('sse');
    expect(s.reason).toMatch(/automatic/);
    expect(s.failedBeforeOpen('sse', 'no opening comment')).toEqual({ switched: true, wrapped: false });
    expect(s.current).toBe('ws');
    expect(s.reason).toBe('sse failed before opening (no opening comment); falling back to ws');
    expect(s.failedBeforeOpen('ws', 'upgrade refused')).toEqual({ switched: true, wrapped: false });
    expect(s.current).toBe('poll');
  });

  test('when every transport failed, starts again from the best (after a backoff)', () => {
    const s = new TransportSelector(['sse', 'ws', 'poll'], false);
    s.failedBeforeOpen('sse', 'x');
    s.failedBeforeOpen('ws', 'x');
    expect(s.failedBeforeOpen('poll', 'server down')).toEqual({ switched: false, wrapped: true });
    expect(s.current).toBe('sse');
    expect(s.reason).toMatch(/every transport failed/);
  });

  test('a transport that has opened once is kept through failures (a restart is no reason to switch)', () => {
    const s = new TransportSelector(['sse', 'ws', 'poll'], false);
    s.opened('sse');
    expect(s.failedBeforeOpen('sse', 'connection refused')).toEqual({ switched: false, wrapped: false });
    expect(s.current).toBe('sse');
  });

  test('a single chosen transport is retried, never switched', () => {
    const s = new TransportSelector(['ws'], true);
    expect(s.reason).toBe('chosen by option (ws)');
    expect(s.failedBeforeOpen('ws', 'x')).toEqual({ switched: false, wrapped: false });
    expect(s.current).toBe('ws');
  });
});
