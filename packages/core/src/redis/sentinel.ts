import type { RedisSentinelConfig } from '@relaykit/contracts';
import { createClient } from 'redis';

export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Finds the master a set of Redis Sentinels names, as the Sentinel client guidelines describe:
 * ask each Sentinel in turn (`SENTINEL GET-MASTER-ADDR-BY-NAME`), first answer wins, and the one
 * that answered is asked first next time. The caller connects there and checks `ROLE`.
 *
 * Written here rather than using node-redis's createSentinel (5.12) because that client does not
 * keep RedisBroker's guarantees: its pub/sub proxy re-subscribes on a new master without telling
 * the caller (so the broker could not refill what was published in between), a PING cannot be sent
 * on that pub/sub connection (the position barrier needs it), and a command issued while it
 * rediscovers waits for the new master and is sent there after the caller's timeout said it failed
 * (a publish reported as failed could still happen) — also while every Sentinel is down and the
 * master is fine. Here the broker keeps its own two connections and only asks where to open them.
 */
export class SentinelLocator {
  private readonly sentinels: RedisNode[];

  constructor(
    private readonly config: RedisSentinelConfig,
    private readonly timeoutMs: number,
  ) {
    this.sentinels = [...config.nodes];
  }

  get masterName(): string {
    return this.config.masterName;
  }

  /** The master's address, or a rejection naming why no Sentinel gave one. */
  async locate(): Promise<RedisNode> {
    const failures: string[] = [];
    for (const sentinel of [...this.sentinels]) {
      try {
        const master = await this.ask(sentinel);
        if (master) {
          this.sentinels.splice(this.sentinels.indexOf(sentinel), 1);
          this.sentinels.unshift(sentinel);
          return master;
        }
        failures.push(`${sentinel.host}:${sentinel.port} knows no master named ${this.config.masterName}`);
      } catch (error) {
        failures.push(`${sentinel.host}:${sentinel.port}: ${(error as Error).message}`);
      }
    }
    throw new Error(`no Sentinel named the master: ${failures.join('; ')}`);
  }

  private async ask(sentinel: RedisNode): Promise<RedisNode | undefined> {
    const client = createClient({
      ...(this.config.sentinelPassword !== undefined && { password: this.config.sentinelPassword }),
      disableOfflineQueue: true,
      socket: { host: sentinel.host, port: sentinel.port, connectTimeout: this.timeoutMs, reconnectStrategy: false },
    });
    client.on('error', () => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      const reply = await Promise.race([
        client.connect().then(() => client.sendCommand(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.config.masterName])),
        timeout,
      ]);
      if (!Array.isArray(reply) || reply.length !== 2) return undefined;
      return { host: String(reply[0]), port: Number(reply[1]) };
    } finally {
      clearTimeout(timer);
      try {
        client.destroy();
      } catch {
        // Never connected.
      }
    }
  }
}
