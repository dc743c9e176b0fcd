/**
 * Bare node:http on Deno answering the benchmark's publish (read the body, JSON.parse, 201): the
 * floor of Deno's node:http compatibility layer, which the Deno app runs on, without relaykit.
 */
import { createServer } from 'node:http';
import { parentEnv } from './env.ts';

let seq = 0;
const { port, host } = parentEnv();
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const input = JSON.parse(Buffer.concat(chunks).toString());
    const body = JSON.stringify({ id: String(++seq), type: input.type });
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}).listen(port, host);
