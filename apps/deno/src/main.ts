import { X509Certificate, createPrivateKey } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { Relay, WORKER_ENV, jsonLogger, loadConfig, loadTls, type TlsAccess, superviseWorkers } from '@relaykit/core';
import { demoAssets as demo } from '@relaykit/demo';
import { createRelayServer, freePort, listenRelay } from '@relaykit/node-edge';

const config = loadConfig(Deno.env.toObject(), (code) => Deno.exit(code), 'deno');
// Read before any worker starts, so that a missing or unreadable file stops the server at once.
const tls = loadTls(config, tlsAccess(), (code) => Deno.exit(code));
if (config.workers > 1 && !Deno.env.get(WORKER_ENV)) await supervise();
else serve();

/**
 * WORKERS > 1: this process only starts and watches the workers (core's superviseWorkers). It
 * runs this module again with the permissions a worker needs (--allow-run is the supervisor's).
 */
async function supervise(): Promise<void> {
  const stop = superviseWorkers({
    count: config.workers,
    port: config.port || (await freePort(config.host)),
    log: jsonLogger(config.logLevel, 'deno'),
    graceMs: config.shutdownGraceMs,
    spawn(env) {
      const args = ['run', '--allow-net', '--allow-env', Deno.mainModule];
      const child = new Deno.Command(Deno.execPath(), { args, env, stdin: 'null', stdout: 'inherit', stderr: 'inherit' }).spawn();
      return { exited: child.status.then((status) => status.code), kill: (signal) => child.kill(signal) };
    },
    exit: (code) => Deno.exit(code),
  });
  if (Deno.build.os !== 'windows') Deno.addSignalListener('SIGTERM', () => stop('SIGTERM'));
  Deno.addSignalListener('SIGINT', () => stop('SIGINT'));
}

/** One server process: the relay, its HTTP server, and shutdown on a signal. */
function serve(): void {
  const relay = new Relay({ config, serverName: 'deno', demo });
  // Deno's node:http (the edge it shares with Node), not Deno.serve: in Deno 2.9.6 Deno.serve has
  // no header or body timeout and Deno.upgradeWebSocket no frame limit, masking or UTF-8 check.
  const shutdown = listenRelay(relay, createRelayServer(relay, tls), (code) => Deno.exit(code));
  // Deno supports only SIGINT (and SIGBREAK) listeners on Windows.
  if (Deno.build.os !== 'windows') Deno.addSignalListener('SIGTERM', () => shutdown('SIGTERM'));
  Deno.addSignalListener('SIGINT', () => shutdown('SIGINT'));
}

/** node:fs and node:crypto, the same on Node, Bun and Deno, for core's loadTls. */
function tlsAccess(): TlsAccess {
  return {
    read: (path: string) => readFileSync(path),
    keyMatchesCert: (cert: Uint8Array, key: Uint8Array) => new X509Certificate(cert).checkPrivateKey(createPrivateKey(Buffer.from(key))),
  };
}
