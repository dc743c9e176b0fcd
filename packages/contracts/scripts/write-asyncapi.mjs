// Writes asyncapi.json from the built schemas; `--check` fails when the committed file is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { buildAsyncApi } from '../dist/index.js';

const file = new URL('../asyncapi.json', import.meta.url);
const text = `${JSON.stringify(buildAsyncApi(), null, 2)}\n`;
if (process.argv.includes('--check')) {
  let current = '';
  try { current = readFileSync(file, 'utf8'); } catch {}
  if (current !== text) {
    console.error('asyncapi.json is stale: run `pnpm --filter @relaykit/contracts asyncapi` and commit it.');
    process.exit(1);
  }
  console.log('asyncapi.json is current');
} else {
  writeFileSync(file, text);
  console.log('wrote asyncapi.json');
}
