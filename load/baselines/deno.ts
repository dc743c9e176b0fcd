/**
 * Bare Deno baseline: Deno.serve + Deno.upgradeWebSocket, a ReadableStream per SSE stream; no
 * framework, no relaykit logic.
 */
// deno-lint-ignore-file
declare const Deno: any;
const enc = new TextEncoder();
const wsTopics = new Map<string, Set<WebSocket>>();
const sseTopics = new Map<string, Set<ReadableStreamDefaultController<Uint8Array>>>();
let seq = 0;

function publish(topic: string, type: string, data: unknown): string {
  const id = String(++seq);
  const json = JSON.stringify({ id, topic, type, data, time: Date.now() });
  const ws = wsTopics.get(topic);
  if (ws?.size) {
    const frame = `{"type":"event","event":${json}}`;
    for (const s of ws) s.send(frame);
  }
  const sse = sseTopics.get(topic);
  if (sse?.size) {
    const bytes = enc.encode(`id: ${id}\nevent: ${type}\ndata: ${json}\n\n`);
    for (const c of sse) c.enqueue(bytes);
  }
  return id;
}

const port = Number(Deno.env.get('PORT') ?? 8080);
const hostname = Deno.env.get('HOST') ?? '127.0.0.1';
Deno.serve(
  { port, hostname, onListen: ({ port }: { port: number }) => console.log(`bare deno listening on http://${hostname}:${port}`) },
  async (req: Request) => {
    const url = new URL(req.url);
    if (url.pathname === '/v1/ws' && req.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      const { socket, response } = Deno.upgradeWebSocket(req);
      const mine = new Set<string>();
      socket.onopen = () => socket.send(JSON.stringify({ type: 'welcome', server: 'deno-bare' }));
      socket.onmessage = (e: MessageEvent) => {
        const frame = JSON.parse(String(e.data));
        if (frame.type === 'subscribe') {
          for (const t of frame.topics ?? []) {
            let set = wsTopics.get(t);
            if (!set) wsTopics.set(t, (set = new Set()));
            set.add(socket);
            mine.add(t);
          }
          socket.send(JSON.stringify({ type: 'subscribed', topics: frame.topics }));
        } else if (frame.type === 'publish' && frame.topic && frame.event) {
          const id = publish(frame.topic, frame.event.type, frame.event.data);
          socket.send(JSON.stringify({ type: 'ack', ref: frame.ref, id }));
        }
      };
      socket.onclose = () => {
        for (const t of mine) wsTopics.get(t)?.delete(socket);
      };
      return response;
    }
    if (req.method === 'GET' && url.pathname === '/v1/events') {
      const topics = url.searchParams.getAll('topic');
      let ctl: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          ctl = controller;
          controller.enqueue(enc.encode(': open\n\n'));
          for (const t of topics) {
            let set = sseTopics.get(t);
            if (!set) sseTopics.set(t, (set = new Set()));
            set.add(controller);
          }
        },
        cancel() {
          for (const t of topics) sseTopics.get(t)?.delete(ctl);
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
    }
    const m = /^\/v1\/topics\/([^/]+)\/events$/.exec(url.pathname);
    if (req.method === 'POST' && m) {
      const input = await req.json();
      const id = publish(m[1]!, input.type, input.data);
      return Response.json({ id, duplicate: false }, { status: 201 });
    }
    if (url.pathname === '/healthz') return Response.json({ status: 'ok' });
    return new Response('not found', { status: 404 });
  },
);
for (const signal of ['SIGTERM', 'SIGINT']) Deno.addSignalListener(signal, () => Deno.exit(0));
