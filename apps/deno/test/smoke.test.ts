/**
 * The smoke test every app runs (`@relaykit/conformance/smoke`), here under `deno test`: starts
 * this Deno binary on src/main.ts with PORT=0 and exercises each transport once, one step per
 * check. The conformance suite is the real proof.
 */
import { fileURLToPath } from 'node:url';
import { spawnServer } from '@relaykit/conformance/server';
import { SMOKE_ENV, smoke } from '@relaykit/conformance/smoke';

// The server is a child process with pipes and timers of its own: Deno's sanitizers would count them.
Deno.test({ name: 'smoke', sanitizeOps: false, sanitizeResources: false }, async (t) => {
  const server = await spawnServer({
    command: [Deno.execPath(), 'run', '--allow-net', '--allow-env', 'src/main.ts'],
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: SMOKE_ENV,
  });
  try {
    for (const check of smoke(server.url, 'deno')) {
      if (!(await t.step(check.name, check.run))) break;
    }
  } finally {
    await server.stop();
  }
});
