/**
 * Bare Deno.serve answering the benchmark's publish: read the JSON body, answer 201 with a small
 * JSON body. The floor of Deno's own HTTP server, without relaykit.
 */
// deno-lint-ignore-file no-explicit-any
declare const Deno: any;
let seq = 0;
Deno.serve({ port: Number(Deno.env.get('PORT')), hostname: Deno.env.get('HOST') ?? '127.0.0.1', onListen() {} }, async (req: Request) => {
  const input = await req.json();
  return new Response(JSON.stringify({ id: String(++seq), type: input.type }), { status: 201, headers: { 'content-type': 'application/json' } });
});
