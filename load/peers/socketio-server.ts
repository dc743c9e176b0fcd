/**
 * Peer: Socket.IO 4 on Node, WebSocket transport only. `subscribe` joins rooms and answers
 * `subscribed`; `POST /v1/topics/:topic/events` emits `event` to the room (io.to(room).emit
 * encodes the packet once per broadcast).
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
let seq = 0;
const http = createServer((req, res) => {
  const m = /^\/v1\/topics\/([^/]+)\/events$/.exec(req.url ?? '');
  if (req.method === 'POST' && m) {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const input = JSON.parse(body) as { type: string; data: unknown };
      const id = String(++seq);
      io.to(m[1]!).emit('event', { id, topic: m[1], type: input.type, data: input.data, time: Date.now() });
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id, duplicate: false }));
    });
    return;
  }
  if (req.url === '/healthz') return void res.end('{"status":"ok"}');
  if (!req.url?.startsWith('/socket.io/')) res.writeHead(404).end();
});
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, httpCompression: false, serveClient: false });
io.on('connection', (socket) => {
  socket.on('subscribe', (topics: string[]) => {
    void socket.join(topics);
    socket.emit('subscribed', topics);
  });
});
http.listen(port, host, () => {
  const address = http.address();
  console.log(`socket.io listening on http://${host}:${typeof address === 'object' && address ? address.port : port}`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
