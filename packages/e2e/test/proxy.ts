import { type Server, type Socket, createServer, connect } from 'node:net';

/**
 * A TCP proxy between a client and a server, to misbehave on purpose: cut every connection,
 * switch to another upstream (a restarted server), freeze traffic (a dead path that stays open),
 * hold SSE responses back (a buffering proxy) or refuse WebSocket upgrades.
 */
export class TestProxy {
  private server: Server;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  upstreamPort: number;
  frozen = false;
  bufferSse = false;
  blockUpgrades = false;
  port = 0;

  constructor(upstreamPort: number) {
    this.upstreamPort = upstreamPort;
    this.server = createServer((client) => this.accept(client));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return `http://127.0.0.1:${this.port}`;
  }

  get connections(): number {
    return this.pairs.size;
  }

  private accept(client: Socket): void {
    const upstream = connect(this.upstreamPort, '127.0.0.1');
    const pair = { client, upstream };
    this.pairs.add(pair);
    let holdResponses = false;
    client.on('data', (chunk) => {
      // Each request on a kept-alive connection is looked at (browsers reuse them).
      const head = chunk.toString('latin1', 0, Math.min(chunk.length, 4096));
      if (/^[A-Z]+ \/\S* HTTP\/1\.1\r\n/.test(head)) {
        if (this.blockUpgrades && /\r\nupgrade:\s*websocket/i.test(head)) {
          client.destroy();
          upstream.destroy();
          return;
        }
        if (this.bufferSse && head.startsWith('GET /v1/events')) holdResponses = true;
      }
      if (!this.frozen) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!this.frozen && !holdResponses) client.write(chunk);
    });
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // A frozen path is a black hole: the server giving up on it is not seen by the client.
    const upstreamClosed = () => {
      if (this.frozen) upstream.destroy();
      else close();
    };
    client.on('close', close);
    client.on('error', close);
    upstream.on('close', upstreamClosed);
    upstream.on('error', upstreamClosed);
  }

  /** Drops every open connection, as a network failure would. */
  cut(): void {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
