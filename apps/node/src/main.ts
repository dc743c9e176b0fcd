import { spawn } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Relay, WORKER_ENV, jsonLogger, loadConfig, loadTls, type TlsAccess, superviseWorkers } from '@relaykit/core';
import { demoAssets as demo } from '@relaykit/demo';
import { createRelayServer, freePort, listenRelay } from '@relaykit/node-edge';

const config = loadConfig(process.env, (code) => process.exit(code), 'node');
// Read before any worker starts, so that a missing or unreadable file stops the server at once.
const tls = loadTls(config, tlsAccess(), (code) => process.exit(code));
if (config.workers > 1 && !process.env[WORKER_ENV]) await supervise();
else serve();

/** WORKERS > 1: this process only starts and watches the workers (core's superviseWorkers). */
async function supervise(): Promise<void> {
  const stop = superviseWorkers({
    count: config.workers,
    port: config.port || (await freePort(config.host)),
    log: jsonLogger(config.logLevel, 'node'),
    graceMs: config.shutdownGraceMs,
    spawn(env) {
      const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { env: { ...process.env, ...env }, stdio: 'inherit' });
      return { exited: new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1))), kill: (signal) => child.kill(signal) };
    },
    exit: (code) => process.exit(code),
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** One server process: the relay, its HTTP server, and shutdown on a signal. */
function serve(): void {
  const relay = new Relay({ config, serverName: 'node', demo });
  const shutdown = listenRelay(relay, createRelayServer(relay, tls), (code) => process.exit(code));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** node:fs and node:crypto, the same on Node, Bun and Deno, for core's loadTls. */
function tlsAccess(): TlsAccess {
  return {
    read: (path: string) => readFileSync(path),
    keyMatchesCert: (cert: Uint8Array, key: Uint8Array) => new X509Certificate(cert).checkPrivateKey(createPrivateKey(Buffer.from(key))),
  };
}
