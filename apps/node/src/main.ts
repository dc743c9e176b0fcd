import { spawn } from 'node:child_process';
import { Relay, WORKER_ENV, jsonLogger, loadConfig, shutdownOnce, superviseWorkers } from '@relaykit/core';
import { demoAssets as demo } from '@relaykit/demo';
import { createRelayServer, freePort, stopListening } from '@relaykit/node-edge';

const config = loadConfig(process.env, (code) => process.exit(code));
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
  const server = createRelayServer(relay);

  // Workers share the port: SO_REUSEPORT lets the kernel spread connections over them.
  server.listen({ port: config.port, host: config.host, reusePort: config.workers > 1 }, async () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    await relay.start();
    relay.announce(`http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`);
  });

  const shutdown = shutdownOnce({
    log: relay.log,
    graceMs: config.shutdownGraceMs,
    closeSessions: () => relay.shutdown(),
    stopListening: () => stopListening(server),
    exit: (code) => process.exit(code),
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
