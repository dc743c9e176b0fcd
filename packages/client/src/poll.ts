import { RelayKitError, errorFromResponse } from './errors.js';
import { type Transport, type TransportContext, authHeaders, isEnvelope } from './transport.js';

interface PollAnswer {
  events: unknown[];
  cursor: string;
  reset?: { code: 'history_unavailable'; topics: string[] };
}

/**
 * Long polling, one request per topic (the protocol's shape), run concurrently. The first request
 * of each topic has wait=0: it answers at once, which proves the path and fixes a cursor.
 */
export function openPoll(ctx: TransportContext): Transport {
  const abort = new AbortController();
  const loops = new Map<string, AbortController>();
  let done = false;
  let pendingFirst = 0;
  let opened = false;

  const finish = (error: RelayKitError) => {
    if (done) return;
    done = true;
    abort.abort();
    ctx.hooks.closed(error);
  };
  const markOpen = () => {
    if (!opened) {
      opened = true;
      ctx.hooks.open({});
    }
  };

  async function once(topic: string, wait: number, signal: AbortSignal): Promise<void> {
    const params = new URLSearchParams({ wait: String(wait) });
    const after = ctx.resume.cursorFor(topic);
    if (after !== undefined) params.set('after', after);
    const timeout = AbortSignal.timeout((wait + 15) * 1000);
    let response: Response;
    try {
      response = await ctx.fetch(`${ctx.baseUrl}/v1/topics/${encodeURIComponent(topic)}/events?${params}`, {
        headers: authHeaders(ctx.token),
        cache: 'no-store',
        signal: AbortSignal.any([signal, timeout]),
      });
    } catch (error) {
      if (signal.aborted) return;
      throw new RelayKitError(timeout.aborted ? 'timeout' : 'network', `poll failed: ${String((error as Error)?.message ?? error)}`);
    }
    if (!response.ok) throw await errorFromResponse(response);
    const answer = (await response.json()) as PollAnswer;
    if (signal.aborted || done) return;
    ctx.hooks.activity();
    if (answer.reset) ctx.hooks.reset({ code: answer.reset.code, topics: answer.reset.topics, position: answer.cursor });
    for (const event of answer.events) {
      if (isEnvelope(event)) ctx.hooks.event(event);
    }
    if (typeof answer.cursor === 'string') ctx.resume.setCursor(topic, answer.cursor);
  }

  function start(topic: string): void {
    const controller = new AbortController();
    loops.set(topic, controller);
    const signal = AbortSignal.any([abort.signal, controller.signal]);
    pendingFirst++;
    (async () => {
      let first = true;
      while (!signal.aborted) {
        await once(topic, first ? 0 : ctx.pollWaitS, signal);
        if (first) {
          first = false;
          if (--pendingFirst === 0) markOpen();
        }
      }
    })().catch((error: unknown) => {
      if (!signal.aborted) finish(error instanceof RelayKitError ? error : new RelayKitError('network', String(error)));
    });
  }

  for (const topic of ctx.topics) start(topic);
  if (ctx.topics.length === 0) queueMicrotask(markOpen);

  return {
    kind: 'poll',
    update(added, removed) {
      for (const topic of removed) {
        loops.get(topic)?.abort();
        loops.delete(topic);
      }
      for (const topic of added) if (!loops.has(topic)) start(topic);
      return true;
    },
    close() {
      done = true;
      abort.abort();
    },
  };
}
