/** Bare Bun.serve answering the benchmark's publish (read the JSON body, 201): Bun's HTTP floor. */
import { parentEnv } from './env.ts';

declare const Bun: { serve(options: { port: number; hostname: string; fetch(req: Request): Promise<Response> }): unknown };
let seq = 0;
const { port, host } = parentEnv();
Bun.serve({
  port,
  hostname: host,
  async fetch(req) {
    const input = await req.json();
    return new Response(JSON.stringify({ id: String(++seq), type: input.type }), { status: 201, headers: { 'content-type': 'application/json' } });
  },
});
