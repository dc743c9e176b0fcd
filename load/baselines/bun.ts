/**
 * Bare Bun baseline: Bun.serve with its native WebSocket pub/sub (server.publish) and a direct
 * ReadableStream per SSE stream; no framework, no relaykit logic. idleTimeout 0 keeps quiet SSE
 * streams open.
 */
/// <reference types="bun" />
type Data = { topics: string[] };
const enc = new TextEncoder();
const sseTopics = new Map<string, Set<ReadableStreamDirectController>>();
let seq = 0;

const server = Bun.serve<Data>({
  hostname: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT ?? 8080),
  idleTimeout: 0,
  async fetch(req, server) {
    const url = new URL(req.url);
    if (url.pathname === '/v1/ws') {
      if (server.upgrade(req, { data: { topics: [] } })) return undefined;
      return new Response('upgrade failed', { status: 400 });
    }
    if (req.method === 'GET' && url.pathname === '/v1/events') {
      const topics = url.searchParams.getAll('topic');
      let ctl: ReadableStreamDirectController | undefined;
      const body = new ReadableStream({
        type: 'direct',
        pull(controller) {
          ctl = controller;
          controller.write(': open\n\n');
          controller.flush();
          for (const t of topics) {
            let set = sseTopics.get(t);
            if (!set) sseTopics.set(t, (set = new Set()));
            set.add(controller);
          }
          return new Promise<void>((resolve) => req.signal.addEventListener('abort', () => resolve()));
        },
        cancel() {
          for (const t of topics) if (ctl) sseTopics.get(t)?.delete(ctl);
        },
      });
      req.signal.addEventListener('abort', () => {
        for (const t of topics) if (ctl) sseTopics.get(t)?.delete(ctl);
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
    }
    const m = /^\/v1\/topics\/([^/]+)\/events$/.exec(url.pathname);
    if (req.method === 'POST' && m) {
      const input = (await req.json()) as { type: string; data: unknown };
      const id = publish(m[1]!, input.type, input.data);
      return Response.json({ id, duplicate: false }, { status: 201 });
    }
    if (url.pathname === '/healthz') return Response.json({ status: 'ok' });
    return new Response('not found', { status: 404 });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws) {
      ws.send(JSON.stringify({ type: 'welcome', server: 'bun-bare' }));
    },
    message(ws, raw) {
      const frame = JSON.parse(String(raw)) as { type: string; topics?: string[]; topic?: string; event?: { type: string; data: unknown }; ref?: unknown };
      if (frame.type === 'subscribe') {
        for (const t of frame.topics ?? []) ws.subscribe(t);
        ws.send(JSON.stringify({ type: 'subscribed', topics: frame.topics }));
      } else if (frame.type === 'publish' && frame.topic && frame.event) {
        const id = publish(frame.topic, frame.event.type, frame.event.data);
        ws.send(JSON.stringify({ type: 'ack', ref: frame.ref, id }));
      }
    },
  },
});

function publish(topic: string, type: string, data: unknown): string {
  const id = String(++seq);
  const json = JSON.stringify({ id, topic, type, data, time: Date.now() });
  server.publish(topic, `{"type":"event","event":${json}}`);
  const set = sseTopics.get(topic);
  if (set?.size) {
    const bytes = enc.encode(`id: ${id}\nevent: ${type}\ndata: ${json}\n\n`);
    for (const c of set) {
      c.write(bytes);
      c.flush();
    }
  }
  return id;
}

console.log(`bare bun listening on http://${server.hostname}:${server.port}`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
