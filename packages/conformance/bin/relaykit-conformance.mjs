#!/usr/bin/env node
// relaykit-conformance: runs the relaykit protocol conformance suite (vitest) against a server.
//   relaykit-conformance --cmd "node src/main.ts"     spawn the server (PORT=0, test config vars)
//   relaykit-conformance --url http://127.0.0.1:8080  any running server, in any language
//   relaykit-conformance --redis --cmd "..."          the same with the server on a Redis broker
//                                                     (starts its own redis-server on loopback)
//   extra: -t <name pattern>, and file filters (e.g. `sse ws`) as positional arguments.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let cmd = process.env.CONFORMANCE_CMD ?? '';
let url = process.env.CONFORMANCE_URL ?? '';
let namePattern;
const filters = [];

function usage(code) {
  (code ? console.error : console.log)(
    'usage: relaykit-conformance (--cmd "<command that starts a server>" [--redis] | --url http://host:port) [-t pattern] [file filters...]',
  );
  process.exit(code);
}

for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const value = () => {
    const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[++i];
    if (v === undefined) usage(2);
    return v;
  };
  if (arg === '--cmd' || arg.startsWith('--cmd=')) cmd = value();
  else if (arg === '--url' || arg.startsWith('--url=')) url = value();
  else if (arg === '--redis') process.env.CONFORMANCE_REDIS = '1';
  else if (arg === '-t' || arg === '--testNamePattern' || arg.startsWith('--testNamePattern=')) namePattern = value();
  else if (arg === '-h' || arg === '--help') usage(0);
  else if (arg.startsWith('-')) {
    console.error(`relaykit-conformance: unknown option ${arg}`);
    usage(2);
  } else filters.push(arg);
}
if (!cmd && !url) usage(2);
if (cmd && url) {
  console.error('relaykit-conformance: give --cmd or --url, not both');
  process.exit(2);
}

process.env.CONFORMANCE_CMD = cmd;
process.env.CONFORMANCE_URL = url;
process.env.CONFORMANCE_CWD = process.cwd();

const { startVitest } = await import('vitest/node');
const vitest = await startVitest('test', filters, {
  root: pkg,
  config: resolve(pkg, 'vitest.config.mjs'),
  run: true,
  watch: false,
  ...(namePattern ? { testNamePattern: namePattern } : {}),
});
await vitest?.close();
const failed = !vitest || process.exitCode !== undefined && process.exitCode !== 0;
process.exit(failed ? 1 : 0);
