import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';

/** A free loopback port (bound and released: good enough for a test's own server). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A redis-server of the test's own, on a loopback port (never 6379), without persistence: a
 * restart comes back empty, as a Redis without AOF/RDB would.
 */
export class RedisServer {
  private child: ChildProcess | undefined;
  /** `args` are extra redis-server options (e.g. `--replicaof 127.0.0.1 <port>`). */
  constructor(
    readonly port: number,
    private readonly args: string[] = [],
  ) {}

  static async start(args: string[] = []): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), args);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.args], {
      stdio: 'ignore',
    });
    this.child = child;
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await this.command(['PING']);
        return;
      } catch (error) {
        if (Date.now() > deadline || child.exitCode !== null) throw error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** One command on a short-lived connection (FLUSHALL, CLIENT KILL, XTRIM…). */
  async command(args: string[]): Promise<unknown> {
    const client = createClient({ url: this.url, socket: { reconnectStrategy: false, connectTimeout: 1_000 } });
    client.on('error', () => {});
    await client.connect();
    try {
      return await client.sendCommand(args);
    } finally {
      client.destroy();
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
  }
}

/**
 * A TCP proxy in front of Redis that can freeze one connection: nothing flows either way and the
 * socket stays open, as with a peer that silently died (or Bun's stuck pub/sub client).
 */
export class FreezingProxy {
  readonly connections: import('node:net').Socket[] = [];
  /** The proxy's socket towards Redis for each connection (its local port names it in CLIENT LIST). */
  readonly upstreams: import('node:net').Socket[] = [];
  private readonly frozen = new Set<number>();
  private server: import('node:net').Server | undefined;
  port = 0;

  constructor(private readonly target: number) {}

  async start(): Promise<void> {
    const { connect } = await import('node:net');
    this.server = createServer((client) => {
      const index = this.connections.push(client) - 1;
      const upstream = connect(this.target, '127.0.0.1');
      this.upstreams.push(upstream);
      const forward = (from: import('node:net').Socket, to: import('node:net').Socket) =>
        from.on('data', (chunk) => {
          if (!this.frozen.has(index)) to.write(chunk);
        });
      forward(client, upstream);
      forward(upstream, client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Freezes the connection Redis knows by `addr` (from CLIENT LIST); false if none is ours. */
  freezeAddr(addr: string): boolean {
    const index = this.upstreams.findIndex((s) => `127.0.0.1:${s.localPort}` === addr);
    if (index >= 0) this.frozen.add(index);
    return index >= 0;
  }

  async stop(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

/**
 * A redis-sentinel of the test's own on a loopback port, monitoring `master` under `name` with a
 * quorum of 1 and short timeouts, so that a dead master is failed over within seconds.
 */
export class SentinelServer {
  private child: ChildProcess | undefined;
  private dir: string | undefined;
  readonly redis: RedisServer;

  private constructor(readonly port: number) {
    this.redis = new RedisServer(port);
  }

  static async start(name: string, master: RedisServer, downAfterMs = 1_000): Promise<SentinelServer> {
    const sentinel = new SentinelServer(await freePort());
    // Sentinel rewrites its config file, so it gets a directory of its own.
    sentinel.dir = mkdtempSync(join(tmpdir(), 'relaykit-sentinel-'));
    const conf = join(sentinel.dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${sentinel.port}`,
        'bind 127.0.0.1',
        `dir ${sentinel.dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} 5000`,
        '',
      ].join('\n'),
    );
    sentinel.child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await sentinel.redis.command(['PING']);
        return sentinel;
      } catch (error) {
        if (Date.now() > deadline || sentinel.child.exitCode !== null) throw error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
