/**
 * One soak cycle per transport, run from the runner process: a fresh TCP connection, a resume
 * subscription to the soak topic after its first event (so the server replays exactly one event,
 * the second), that event, and a client-side disconnect that waits until the socket is closed.
 * Each cycle binds its own loopback source address (127.0.200.1–250) so that tens of thousands of
 * closed connections in TIME_WAIT never exhaust one address's ephemeral ports.
 */
import http from 'node:http';
import WebSocket from 'ws';

export type SoakTransport = 'ws' | 'sse' | 'poll';

/** Where each cycle goes: the server, the topic, the resume id and the id the cycle must receive. */
export interface SoakTopic {
  base: string;
  topic: string;
  afterId: string;
  expectId: string;
}

const CYCLE_TIMEOUT_MS = 10_000;

function sourceAddress(cycle: number): string {
  return `127.0.200.${1 + (cycle % 250)}`;
}

/** Resolves when the cycle completed; rejects with a short reason otherwise (timeout included). */
export function soakCycle(transport: SoakTransport, t: SoakTopic, cycle: number): Promise<void> {
  const run = transport === 'ws' ? wsCycle : transport === 'sse' ? sseCycle : pollCycle;
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => finish(new Error('cycle timed out')), CYCLE_TIMEOUT_MS);
    const abort = run(t, sourceAddress(cycle), (e) => finish(e));
    function finish(e?: Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e) {
        abort();
        reject(e);
      } else resolve();
    }
  });
}

/** Starts a cycle; calls `done` once (with an error on failure); returns how to tear it down early. */
type CycleFn = (t: SoakTopic, localAddress: string, done: (e?: Error) => void) => () => void;

const wsCycle: CycleFn = (t, localAddress, done) => {
  const ws = new WebSocket(`${t.base.replace(/^http/, 'ws')}/v1/ws`, { localAddress, perMessageDeflate: false });
  let received = false;
  ws.on('message', (raw) => {
    const frame = JSON.parse(String(raw)) as { type: string; event?: { id: string }; code?: string };
    if (frame.type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', topics: [t.topic], lastEventId: t.afterId }));
    else if (frame.type === 'event' && frame.event?.id === t.expectId) {
      received = true;
      ws.close(1000);
    } else if (frame.type === 'error' || frame.type === 'reset') done(new Error(`ws ${frame.type} ${frame.code ?? ''}`));
  });
  ws.on('close', () => done(received ? undefined : new Error('ws closed before the event')));
  ws.on('error', (e) => done(new Error(`ws ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
  return () => ws.terminate();
};

const sseCycle: CycleFn = (t, localAddress, done) => {
  const url = new URL(`/v1/events?topic=${encodeURIComponent(t.topic)}`, t.base);
  let received = false;
  const req = http.get(url, { agent: false, localAddress, headers: { accept: 'text/event-stream', 'last-event-id': t.afterId } }, (res) => {
    if (res.statusCode !== 200) {
      res.resume();
      return done(new Error(`sse ${res.statusCode}`));
    }
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
      if (!received && text.includes(`id: ${t.expectId}\n`) && /\n\n$/.test(text)) {
        received = true;
        req.destroy();
      }
    });
    res.on('error', () => {});
    res.socket.once('close', () => done(received ? undefined : new Error('sse stream ended before the event')));
  });
  // Destroying the request after the event is our own disconnect, not an error.
  req.on('error', (e) => received || done(new Error(`sse ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
  return () => req.destroy();
};

const pollCycle: CycleFn = (t, localAddress, done) => {
  const url = new URL(`/v1/topics/${encodeURIComponent(t.topic)}/events?after=${encodeURIComponent(t.afterId)}&wait=0`, t.base);
  const req = http.get(url, { agent: false, localAddress }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (body += chunk));
    res.on('end', () => {
      let ids: string[] = [];
      try {
        ids = ((JSON.parse(body) as { events?: Array<{ id: string }> }).events ?? []).map((e) => e.id);
      } catch {}
      const ok = res.statusCode === 200 && ids.length === 1 && ids[0] === t.expectId;
      // agent: false sends `Connection: close`; the cycle ends when the socket is closed.
      if (res.socket.destroyed) done(ok ? undefined : new Error(`poll ${res.statusCode} ${body.slice(0, 80)}`));
      else res.socket.once('close', () => done(ok ? undefined : new Error(`poll ${res.statusCode} ${body.slice(0, 80)}`)));
    });
  });
  req.on('error', (e) => done(new Error(`poll ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
  return () => req.destroy();
};
