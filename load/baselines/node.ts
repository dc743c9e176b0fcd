/**
 * Bare Node baseline: node:http + ws, no framework, no relaykit logic. Speaks just enough of the
 * relaykit protocol for the load scenarios (welcome, subscribe→subscribed, publish→ack, SSE
 * `?topic=`, HTTP publish), with topic sets and a JSON.stringify per event encoded once.
 */
import { createServer, type ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
const wsTopics = new Map<string, Set<WebSocket>>();
const sseTopics = new Map<string, Set<ServerResponse>>();
let seq = 0;

function publish(topic: string, type: string, data: unknown): string {
  const id = String(++seq);
  const json = JSON.stringify({ id, topic, type, data, time: Date.now() });
  const frame = `{"type":"event","event":${json}}`;
  for (const ws of wsTopics.get(topic) ?? []) ws.send(frame);
  const sse = `id: ${id}\nevent: ${type}\ndata: ${json}\n\n`;
  for (const res of sseTopics.get(topic) ?? []) res.write(sse);
  return id;
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/v1/events') {
    const topics = url.searchParams.getAll('topic');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(': open\n\n');
    for (const t of topics) {
      let set = sseTopics.get(t);
      if (!set) sseTopics.set(t, (set = new Set()));
      set.add(res);
    }
    res.on('close', () => {
      for (const t of topics) sseTopics.get(t)?.delete(res);
    });
    return;
  }
  const m = /^\/v1\/topics\/([^/]+)\/events$/.exec(url.pathname);
  if (req.method === 'POST' && m) {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const input = JSON.parse(body) as { type: string; data: unknown };
      const id = publish(m[1]!, input.type, input.data);
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id, duplicate: false }));
    });
    return;
  }
  if (url.pathname === '/healthz') return void res.end('{"status":"ok"}');
  res.writeHead(404).end();
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    const mine = new Set<string>();
    ws.send(JSON.stringify({ type: 'welcome', server: 'node-bare' }));
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as { type: string; topics?: string[]; topic?: string; event?: { type: string; data: unknown }; ref?: unknown };
      if (frame.type === 'subscribe') {
        for (const t of frame.topics ?? []) {
          let set = wsTopics.get(t);
          if (!set) wsTopics.set(t, (set = new Set()));
          set.add(ws);
          mine.add(t);
        }
        ws.send(JSON.stringify({ type: 'subscribed', topics: frame.topics }));
      } else if (frame.type === 'publish' && frame.topic && frame.event) {
        const id = publish(frame.topic, frame.event.type, frame.event.data);
        ws.send(JSON.stringify({ type: 'ack', ref: frame.ref, id }));
      }
    });
    ws.on('close', () => {
      for (const t of mine) wsTopics.get(t)?.delete(ws);
    });
  });
});

server.listen(port, host, () => {
  const address = server.address();
  console.log(`bare node listening on http://${host}:${typeof address === 'object' && address ? address.port : port}`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
