/**
 * A worker thread that asks a server's /healthz every ~250 ms (a new connection each time, 2 s
 * timeout) while an attack runs, on its own event loop so the attack's client work does not
 * delay it. Posts its tally when told to stop.
 */
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const { port, everyMs, timeoutMs } = workerData as { port: number; everyMs: number; timeoutMs: number };
const tally = { polls: 0, ok: 0, failures: 0, maxMs: 0, sumMs: 0, firstFailureAtMs: -1, lastError: '' };
const t0 = Date.now();
let stopping = false;

function once(): Promise<void> {
  return new Promise((resolve) => {
    const started = performance.now();
    let settled = false;
    const finish = (ok: boolean, why = '') => {
      if (settled) return;
      settled = true;
      const ms = performance.now() - started;
      tally.polls++;
      tally.sumMs += ms;
      if (ms > tally.maxMs) tally.maxMs = ms;
      if (ok) tally.ok++;
      else {
        tally.failures++;
        tally.lastError = why;
        if (tally.firstFailureAtMs < 0) tally.firstFailureAtMs = Date.now() - t0;
      }
      resolve();
    };
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => finish(res.statusCode === 200, `status ${res.statusCode}`));
      res.on('error', (e) => finish(false, e.message));
    });
    req.on('timeout', () => {
      req.destroy();
      finish(false, `no answer within ${timeoutMs} ms`);
    });
    req.on('error', (e) => finish(false, (e as NodeJS.ErrnoException).code ?? e.message));
  });
}

parentPort!.on('message', (msg) => {
  if (msg === 'stop') stopping = true;
});

(async () => {
  while (!stopping) {
    const started = Date.now();
    await once();
    const wait = everyMs - (Date.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  parentPort!.postMessage(tally);
})();
