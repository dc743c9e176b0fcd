/**
 * The smoke test every app runs (`@relaykit/conformance/smoke`), here under `node --test`: starts
 * `node src/main.ts` with PORT=0 and exercises each transport once. The conformance suite is the
 * real proof.
 */
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type SpawnedServer, spawnServer } from '@relaykit/conformance/server';
import { SMOKE_ENV, smoke } from '@relaykit/conformance/smoke';

let server: SpawnedServer;

before(async () => {
  server = await spawnServer({ command: [process.execPath, 'src/main.ts'], cwd: fileURLToPath(new URL('..', import.meta.url)), env: SMOKE_ENV });
});

after(() => server.stop());

for (const check of smoke(() => server.url, 'node')) test(check.name, check.run);
