/**
 * Peer: Socket.IO 4 on Node, WebSocket transport only. `subscribe` joins rooms and answers
 * `subscribed`; `POST /v1/topics/:topic/events` emits `event` to the room (io.to(room).emit
 * encodes the packet once per broadcast). With REDIS_URL it runs on @socket.io/redis-adapter
 * (node-redis clients, channels under REDIS_KEY_PREFIX), the way several Socket.IO servers share
 * rooms: every broadcast is also PUBLISHed to Redis for the other servers.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
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
const redisUrl = process.env.REDIS_URL;
if (redisUrl) {
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  for (const client of [pubClient, subClient]) client.on('error', (error: Error) => console.error(`redis: ${error.message}`));
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient, { key: process.env.REDIS_KEY_PREFIX ?? 'socket.io' }));
}
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
