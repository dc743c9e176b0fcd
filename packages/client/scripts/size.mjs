// The browser build's size: src bundled with eventsource-parser, minified, gzipped.
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const result = await build({
  entryPoints: [new URL('../src/index.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  write: false,
  metafile: true,
  legalComments: 'none',
});
const code = result.outputFiles[0].contents;
const inputs = Object.keys(result.metafile.inputs);
if (inputs.some((path) => path.includes('/zod/'))) throw new Error('zod must not be in the browser build');
console.log(`@relaykit/client browser build: ${code.byteLength} B minified, ${gzipSync(code, { level: 9 }).byteLength} B gzipped (${inputs.length} modules, no zod)`);
