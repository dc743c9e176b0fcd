/**
 * The smoke test every app runs (`@relaykit/conformance/smoke`), here under `bun test`: starts
 * `bun src/main.ts` with PORT=0 and exercises each transport once. The conformance suite is the
 * real proof.
 */
import { afterAll, beforeAll, test } from 'bun:test';
import { type SpawnedServer, spawnServer } from '@relaykit/conformance/server';
import { SMOKE_ENV, smoke } from '@relaykit/conformance/smoke';

let server: SpawnedServer;

beforeAll(async () => {
  server = await spawnServer({ command: [process.execPath, 'src/main.ts'], cwd: `${import.meta.dir}/..`, env: SMOKE_ENV });
});

afterAll(() => server.stop());

for (const check of smoke(() => server.url, 'bun')) test(check.name, check.run);
