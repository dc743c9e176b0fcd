/**
 * The attacks suite (issue 8, "Bounded under attack"): for each relaykit runtime, a fresh server
 * per attack (default config plus the attack's env), one of the six adversarial inputs of the
 * issue, and three answers: how much the server's RSS grew (from /proc), whether /healthz kept
 * answering (polled every ~250 ms from a worker thread), and whether the process survived.
 * Everything is on 127.0.0.1, bounded in count and in time (a timeout per attack), and the server
 * is killed at the end of each attack.
 *
 *   node runner/main.ts --suites attacks [--only node,deno] [--attacks deep-ws,topics] [--attack-gc]
 *
 * Targets (issue 8): RSS growth within 40 MB (topics: growth after 20,000 topics within 2× the
 * growth after the first 1,000 + 20 MB), /healthz answers throughout, 0 crashes.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { LoadMeasurement } from '@relaykit/contracts';
import { type InspectorGc, connectInspector, inspectArgs } from '../inspector-gc.ts';
import { loadavg1, rssKb, safeCpuMs as safeCpu } from '../proc.ts';
import { RawWs, headerFor, maskedFiller } from '../raw-ws.ts';
import type { RunState } from '../run-state.ts';
import { round } from '../stats.ts';
import { ROOT, type RunningServer, type TargetDef, freePort, startServer } from '../targets.ts';

const MB = 1024; // KB per MB (RSS figures are in KB)

/** What an attack sees of the server under test. */
interface AttackCtx {
  port: number;
  base: string;
  pid: number;
  signal: AbortSignal;
  rss(): number;
  /** Peak RSS growth so far in this attack, in KB (peak since the post-setup baseline). */
  growthSoFar(): number;
  /** The post-setup RSS baseline, in KB. */
  baseKb(): number;
  /**
   * With --attack-gc (Node, Deno, Bun): forces full GCs in the server and records, under `name`,
   * the RSS growth (KB, from the post-setup baseline, itself taken after a GC) and V8's used heap
   * after them. A no-op otherwise.
   */
  gcMark(name: string): Promise<void>;
  log(msg: string): void;
  /** Extra strings for the run's JSON (close codes, statuses...), kept in params. */
  params: Record<string, string | number | boolean>;
}

interface AttackResult {
  figures: Record<string, number>;
  /** One short line for the table. */
  outcome: string;
}

interface Attack {
  id: string;
  title: string;
  transport: 'ws' | 'http';
  env?: Record<string, string>;
  timeoutMs: number;
  /** Legitimate state the attack needs (e.g. a 12 MB history); RSS growth is counted from after it. */
  setup?(ctx: AttackCtx): Promise<void>;
  run(ctx: AttackCtx): Promise<AttackResult>;
  /** Memory target: the budget in KB given the figures (default 40 MB of peak growth). */
  budget?(figures: Record<string, number>): { growthKb: number; budgetKb: number; rule: string };
}

// ---- helpers -----------------------------------------------------------------------------------

interface HttpAnswer {
  status: number;
  body: string;
  error?: string;
}

function request(port: number, method: string, path: string, body?: string, agent?: http.Agent, timeoutMs = 15_000): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent: agent ?? false, timeout: timeoutMs, headers: body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size < 1_000_000) chunks.push(d);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => resolve({ status: res.statusCode ?? 0, body: '', error: e.message }));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      resolve({ status: 0, body: '', error: 'timeout' });
    });
    req.on('error', (e) => resolve({ status: 0, body: '', error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(body);
  });
}

function errorCode(body: string): string {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? '';
  } catch {
    return '';
  }
}

/** Counts of each value, as `201×10, 413×2`. */
function tallyOf(values: Array<string | number>): string {
  const m = new Map<string, number>();
  for (const v of values) m.set(String(v), (m.get(String(v)) ?? 0) + 1);
  return [...m].map(([k, n]) => `${k}×${n}`).join(', ') || '-';
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const BIG_DATA_BYTES = 60_000;
const bigBody = `{"type":"t","data":"${'x'.repeat(BIG_DATA_BYTES)}"}`;

/** Publishes `n` events of ~60 KB to `topic` over HTTP (4 at a time); returns the epoch of their ids. */
async function fillHistory(ctx: AttackCtx, topic: string, n: number): Promise<string> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let epoch = '';
  let failed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < n && !ctx.signal.aborted) {
        next++;
        const a = await request(ctx.port, 'POST', `/v1/topics/${topic}/events`, bigBody, agent);
        if (a.status !== 201) failed++;
        else if (!epoch) epoch = String((JSON.parse(a.body) as { id: string }).id).replace(/-\d+$/, '');
      }
    }),
  );
  agent.destroy();
  ctx.params.setupPublished = n - failed;
  if (failed) ctx.log(`    setup: ${failed}/${n} publishes failed`);
  return epoch;
}

/**
 * Bytes the kernel holds for connections to the server's port (from /proc/net/tcp): the server
 * sockets' send queues and the clients' receive queues. On loopback a client that "never reads"
 * still absorbs up to tcp_rmem[2] (here 32 MB) before the server sees any backpressure, so this
 * says how much of what the server sent is sitting in the kernel rather than in its RSS.
 */
export function kernelQueues(port: number): { serverSendKb: number; clientRecvKb: number } {
  let send = 0;
  let recv = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 5) continue;
      const local = parseInt(f[1]!.split(':')[1]!, 16);
      const remote = parseInt(f[2]!.split(':')[1]!, 16);
      const [tx, rx] = f[4]!.split(':').map((x) => parseInt(x, 16));
      if (local === port) send += tx!;
      else if (remote === port) recv += rx!;
    }
  }
  return { serverSendKb: Math.round(send / 1024), clientRecvKb: Math.round(recv / 1024) };
}

async function metricsGauge(port: number, name: string): Promise<number> {
  const a = await request(port, 'GET', '/metrics', undefined, undefined, 3000);
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(a.body);
  return m ? Number(m[1]) : Number.NaN;
}

// ---- the attacks -------------------------------------------------------------------------------

const DEPTH = 3000;
const deepData = '['.repeat(DEPTH) + ']'.repeat(DEPTH);

const deepWs: Attack = {
  id: 'deep-ws',
  title: `1. one WS publish frame whose data nests ${DEPTH} arrays`,
  transport: 'ws',
  timeoutMs: 20_000,
  async run(ctx) {
    const ws = new RawWs(ctx.port);
    await ws.open;
    const welcome = await ws.next();
    const frame = `{"type":"publish","topic":"x","event":{"type":"t","data":${deepData}},"ref":1}`;
    ctx.params.frameBytes = frame.length;
    ws.sendText(frame);
    const reply = await ws.next((f) => f.opcode === 1 || f.opcode === 8, 5000);
    let replyText = reply ? (reply.opcode === 8 ? `close ${ws.closeInfo.code}` : reply.payload.toString('utf8').slice(0, 300)) : 'no reply within 5 s';
    await sleep(500);
    // Still usable? A ping must be answered with a pong.
    let pong = 0;
    if (!ws.isClosed) {
      ws.sendText('{"type":"ping","ref":2}');
      const p = await ws.next((f) => f.opcode === 1 && f.payload.includes('"pong"'), 3000);
      pong = p ? 1 : 0;
    }
    await sleep(500);
    const open = ws.isClosed ? 0 : 1;
    ws.destroy();
    let code = '';
    try {
      const j = JSON.parse(replyText) as { type?: string; code?: string; message?: string };
      code = j.type === 'error' ? `error ${j.code}` : String(j.type);
      if (j.message) ctx.params.replyMessage = j.message.slice(0, 200);
    } catch {}
    ctx.params.reply = replyText.slice(0, 200);
    if (ws.closeInfo.code) ctx.params.closeCode = ws.closeInfo.code;
    if (ws.closeInfo.error) ctx.params.socketError = ws.closeInfo.error;
    if (!welcome) replyText = `no welcome; ${replyText}`;
    const outcome = `${code || replyText.slice(0, 40)}; ${open ? 'connection open' : `closed${ws.closeInfo.code ? ` ${ws.closeInfo.code}` : ' (no close frame)'}`}${open ? (pong ? ', pong' : ', no pong') : ''}`;
    return { figures: { errorFrame: code.startsWith('error') ? 1 : 0, badRequest: code === 'error bad_request' ? 1 : 0, connectionOpen: open, pong }, outcome };
  },
};

const deepHttp: Attack = {
  id: 'deep-http',
  title: `1b. the same data (${DEPTH} nested arrays) as an HTTP publish body`,
  transport: 'http',
  timeoutMs: 20_000,
  async run(ctx) {
    const body = `{"type":"t","data":${deepData}}`;
    const a = await request(ctx.port, 'POST', '/v1/topics/x/events', body, undefined, 10_000);
    const code = errorCode(a.body);
    ctx.params.status = a.status;
    if (code) ctx.params.code = code;
    if (a.error) ctx.params.error = a.error;
    ctx.params.answer = a.body.slice(0, 200);
    await sleep(500);
    return { figures: { status: a.status, badRequest: a.status === 400 && code === 'bad_request' ? 1 : 0 }, outcome: a.status ? `${a.status} ${code || a.body.slice(0, 30)}` : `no answer (${a.error})` };
  },
};

const DRIBBLE_CONNS = 10;
const DRIBBLE_BYTES = 60_000;

const dribble: Attack = {
  id: 'dribble',
  title: `2. ${DRIBBLE_CONNS} chunked POSTs of ${DRIBBLE_BYTES / 1000} KB, one byte per chunk`,
  transport: 'http',
  timeoutMs: 150_000,
  async run(ctx) {
    const body = Buffer.from(`{"type":"t","data":"${'x'.repeat(DRIBBLE_BYTES - 22)}"}`);
    const chunkOf = new Map<number, Buffer>();
    const chunk = (b: number) => {
      let c = chunkOf.get(b);
      if (!c) chunkOf.set(b, (c = Buffer.concat([Buffer.from('1\r\n'), Buffer.from([b]), Buffer.from('\r\n')])));
      return c;
    };
    let wireBytes = 0;
    let chunksSent = 0;
    const started = Date.now();
    const one = (i: number) =>
      new Promise<string>((resolve) => {
        const s: Socket = connect({ port: ctx.port, host: '127.0.0.1', noDelay: true });
        let answer = '';
        let done = false;
        const finish = (what: string) => {
          if (done) return;
          done = true;
          s.destroy();
          resolve(what);
        };
        s.on('data', (d: Buffer) => {
          answer += d.toString('latin1');
          const m = /^HTTP\/1\.1 (\d+)/.exec(answer);
          if (m && answer.includes('\r\n\r\n')) setTimeout(() => finish(m[1]!), 50);
        });
        s.on('error', (e) => finish(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
        s.on('close', () => finish(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 'closed'));
        s.on('connect', async () => {
          const head = `POST /v1/topics/dribble-${i}/events HTTP/1.1\r\nHost: 127.0.0.1:${ctx.port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
          s.write(head);
          wireBytes += head.length;
          for (let k = 0; k < body.length; k++) {
            if (done || ctx.signal.aborted) return finish(done ? 'closed' : 'aborted');
            const c = chunk(body[k]!);
            wireBytes += c.length;
            chunksSent++;
            if (!s.write(c)) await new Promise<void>((r) => s.once('drain', () => r()));
            await immediate(); // each byte its own write (and, with noDelay, its own segment)
          }
          if (done) return;
          s.write('0\r\n\r\n');
          wireBytes += 5;
          setTimeout(() => finish(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 'no answer in 15 s'), 15_000).unref();
        });
      });
    const progress = setInterval(() => ctx.log(`    ${chunksSent} one-byte chunks sent, server RSS ${Math.round(ctx.rss() / MB)} MB`), 5000);
    const statuses = await Promise.all(Array.from({ length: DRIBBLE_CONNS }, (_, i) => one(i)));
    clearInterval(progress);
    ctx.params.statuses = tallyOf(statuses);
    return {
      figures: { connections: DRIBBLE_CONNS, bodyBytesEach: body.length, chunksSent, wireKb: round(wireBytes / 1024, 1), sendS: round((Date.now() - started) / 1000, 1), answered201: statuses.filter((s) => s === '201').length },
      outcome: `${tallyOf(statuses)}; ${chunksSent} chunks in ${round((Date.now() - started) / 1000, 1)} s`,
    };
  },
};

/** 20,000 as in the issue; RELAYKIT_ATTACK_TOPICS overrides it for diagnosis (does growth level off?). */
const TOPICS = Number(process.env.RELAYKIT_ATTACK_TOPICS ?? 20_000);
const TOPICS_FIRST = 1_000;

const topics: Attack = {
  id: 'topics',
  title: `3. ${TOPICS.toLocaleString('en')} one-event POSTs to distinct topics (MAX_HISTORIES=1000)`,
  transport: 'http',
  env: { MAX_HISTORIES: '1000' },
  timeoutMs: 240_000,
  async run(ctx) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const base = ctx.rss();
    const statuses = new Map<number, number>();
    let next = 0;
    let done = 0;
    let rssAt1k = 0;
    const started = Date.now();
    const lanes = async () => {
      while (next < TOPICS && !ctx.signal.aborted) {
        const i = next++;
        const a = await request(ctx.port, 'POST', `/v1/topics/t${i}/events`, '{"type":"t","data":1}', agent);
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        done++;
        if (done % 5000 === 0) ctx.log(`    ${done} topics, server RSS ${Math.round(ctx.rss() / MB)} MB`);
      }
    };
    // The first 1,000, then a pause to read RSS, then the rest.
    const target1k = TOPICS_FIRST;
    const first = async () => {
      while (next < target1k && !ctx.signal.aborted) {
        const i = next++;
        const a = await request(ctx.port, 'POST', `/v1/topics/t${i}/events`, '{"type":"t","data":1}', agent);
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        done++;
      }
    };
    await Promise.all(Array.from({ length: 16 }, first));
    await sleep(500);
    rssAt1k = ctx.rss();
    await ctx.gcMark('first1k');
    await Promise.all(Array.from({ length: 16 }, lanes));
    const sendS = (Date.now() - started) / 1000;
    await sleep(1000);
    const rssEnd = ctx.rss();
    agent.destroy();
    const histories = await metricsGauge(ctx.port, 'relaykit_histories');
    const historyBytes = await metricsGauge(ctx.port, 'relaykit_history_bytes');
    const topicsGauge = await metricsGauge(ctx.port, 'relaykit_topics');
    ctx.params.statuses = tallyOf([...statuses].flatMap(([k, n]) => Array<number>(n).fill(k)));
    const g1k = rssAt1k - base;
    const gAll = rssEnd - base;
    return {
      figures: {
        topics: done,
        published: statuses.get(201) ?? 0,
        growthFirst1kKb: g1k,
        growthAllKb: gAll,
        postsPerS: round(done / sendS, 0),
        ...(Number.isFinite(histories) ? { histories } : {}),
        ...(Number.isFinite(historyBytes) ? { historyBytes } : {}),
        ...(Number.isFinite(topicsGauge) ? { topicsGauge } : {}),
      },
      outcome: `+${round(g1k / MB, 1)} MB @1k, +${round(gAll / MB, 1)} MB @${TOPICS / 1000}k; ${Number.isFinite(histories) ? `histories ${histories}` : 'no relaykit_histories gauge'}`,
    };
  },
  budget: (f) => ({ growthKb: f.growthAllKb!, budgetKb: 2 * Math.max(0, f.growthFirst1kKb!) + 20 * MB, rule: '≤ 2×(1k) + 20 MB' }),
};

const POLLS = 20;
const HISTORY_EVENTS = 200;

const longPoll: Attack = {
  id: 'longpoll',
  title: `4. ${POLLS} long polls after=<epoch>-0&wait=0 into ${HISTORY_EVENTS} × 60 KB, never read`,
  transport: 'http',
  timeoutMs: 90_000,
  async setup(ctx) {
    ctx.params.epoch = await fillHistory(ctx, 'big', HISTORY_EVENTS);
  },
  async run(ctx) {
    const epoch = String(ctx.params.epoch);
    const path = `/v1/topics/big/events?after=${epoch}-0&wait=0`;
    const socks = Array.from({ length: POLLS }, () => {
      const s = connect({ port: ctx.port, host: '127.0.0.1', noDelay: true });
      const st = { s, status: '', bytes: 0, closed: false };
      s.once('data', (d: Buffer) => {
        st.bytes += d.length;
        st.status = /^HTTP\/1\.1 (\d+)/.exec(d.toString('latin1', 0, 20))?.[1] ?? '?';
        s.pause(); // from here on the client does not read
      });
      s.on('error', () => {});
      s.on('close', () => (st.closed = true));
      s.on('connect', () => s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${ctx.port}\r\nConnection: close\r\n\r\n`));
      return st;
    });
    await sleep(5000); // held, unread
    const unreadKb = ctx.growthSoFar();
    const unreadNowKb = ctx.rss() - ctx.baseKb();
    const kq = kernelQueues(ctx.port);
    await ctx.gcMark('unread');
    const statuses = tallyOf(socks.map((x) => x.status || 'none'));
    // Now read every answer to the end, to see how big one answer is (a page, or the whole history).
    const readAll = socks.map(
      (st) =>
        new Promise<void>((resolve) => {
          if (st.closed) return resolve();
          st.s.on('data', (d: Buffer) => (st.bytes += d.length));
          st.s.on('close', () => resolve());
          st.s.resume();
        }),
    );
    await Promise.race([Promise.all(readAll), sleep(15_000)]);
    for (const st of socks) st.s.destroy();
    const sizes = socks.map((x) => x.bytes);
    ctx.params.statuses = statuses;
    ctx.params.after = `${epoch}-0`;
    return {
      figures: { growthUnreadKb: unreadKb, growthUnreadEndKb: unreadNowKb, growthWhileReadingKb: ctx.growthSoFar(), kernelServerSendKb: kq.serverSendKb, kernelClientRecvKb: kq.clientRecvKb, polls: POLLS, answered200: socks.filter((x) => x.status === '200').length, answerKbMax: round(Math.max(...sizes) / 1024, 1), answerKbMin: round(Math.min(...sizes) / 1024, 1) },
      outcome: `${statuses}; one answer ${round(Math.max(...sizes) / 1024 / 1024, 2)} MB; +${round(unreadKb / MB, 1)} MB while unread (kernel queues ${round((kq.serverSendKb + kq.clientRecvKb) / MB, 1)} MB), peak +${round(ctx.growthSoFar() / MB, 1)} MB once read`,
    };
  },
  budget: (f) => ({ growthKb: f.growthUnreadKb ?? f.growthPeakKb!, budgetKb: 40 * MB, rule: '≤ 40 MB while unread' }),
};

const REPLAYERS = 10;

const replay: Attack = {
  id: 'replay',
  title: `5. ${REPLAYERS} WS resumes of a 12 MB history that never read (MAX_BUFFERED_BYTES=1 MiB)`,
  transport: 'ws',
  env: { MAX_BUFFERED_BYTES: '1048576' },
  timeoutMs: 90_000,
  async setup(ctx) {
    ctx.params.epoch = await fillHistory(ctx, 'big', HISTORY_EVENTS);
  },
  async run(ctx) {
    const epoch = String(ctx.params.epoch);
    const clients = await Promise.all(
      Array.from({ length: REPLAYERS }, async () => {
        const ws = new RawWs(ctx.port);
        let events = 0;
        ws.onFrame = (f) => {
          if (f.opcode === 1 && f.payload.subarray(0, 16).toString() === '{"type":"event",') events++;
        };
        await ws.open;
        const welcome = await ws.next();
        const pos = welcome ? (JSON.parse(welcome.payload.toString()) as { position?: string }).position : undefined;
        ws.sendText(JSON.stringify({ type: 'subscribe', topics: ['big'], lastEventId: `${epoch}-0` }));
        ws.socket.pause(); // never reads from here on
        return { ws, events: () => events, pos };
      }),
    );
    ctx.params.welcomePosition = clients[0]?.pos ?? '';
    await sleep(5000);
    // One live event: on some servers a stuck replay is only noticed when something new arrives.
    await request(ctx.port, 'POST', '/v1/topics/big/events', '{"type":"t","data":"live"}');
    await sleep(2000);
    const unreadKb = ctx.growthSoFar();
    const unreadNowKb = ctx.rss() - ctx.baseKb();
    const kq = kernelQueues(ctx.port);
    await ctx.gcMark('unread');
    // Now read: does each client get the whole backlog (and the live event), or was it closed?
    for (const c of clients) c.ws.socket.resume();
    const want = HISTORY_EVENTS + 1;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && clients.some((c) => !c.ws.isClosed && c.events() < want)) await sleep(100);
    const closed = clients.filter((c) => c.ws.isClosed || c.ws.closeInfo.code);
    const codes = tallyOf(closed.map((c) => c.ws.closeInfo.code ?? c.ws.closeInfo.error ?? 'no close frame'));
    const ev = clients.map((c) => c.events());
    for (const c of clients) c.ws.destroy();
    ctx.params.closeCodes = codes;
    return {
      figures: { growthUnreadKb: unreadKb, growthUnreadEndKb: unreadNowKb, growthWhileReadingKb: ctx.growthSoFar(), kernelServerSendKb: kq.serverSendKb, kernelClientRecvKb: kq.clientRecvKb, clients: REPLAYERS, closed: closed.length, eventsMin: Math.min(...ev), eventsMax: Math.max(...ev), eventsWanted: want },
      outcome: `closed ${closed.length}/${REPLAYERS}${closed.length ? ` (${codes})` : ''}; got ${Math.min(...ev)}–${Math.max(...ev)}/${want} events after reading; +${round(unreadKb / MB, 1)} MB while unread (kernel queues ${round((kq.serverSendKb + kq.clientRecvKb) / MB, 1)} MB), peak +${round(ctx.growthSoFar() / MB, 1)} MB once read`,
    };
  },
  budget: (f) => ({ growthKb: f.growthUnreadKb ?? f.growthPeakKb!, budgetKb: 40 * MB, rule: '≤ 40 MB while unread' }),
};

const BIG_CLIENTS = 5;
const DECLARED = 60 * 1024 * 1024;
const DRIBBLED = 20 * 1024 * 1024;

const bigFrame: Attack = {
  id: 'bigframe',
  title: `6. ${BIG_CLIENTS} WS clients: a frame header declaring 60 MB, then 20 MB of payload`,
  transport: 'ws',
  timeoutMs: 90_000,
  async run(ctx) {
    const chunkBytes = 64 * 1024;
    const clients = await Promise.all(
      Array.from({ length: BIG_CLIENTS }, async () => {
        const ws = new RawWs(ctx.port);
        await ws.open;
        await ws.next(undefined, 3000); // welcome
        const key = randomBytes(4);
        const filler = maskedFiller(chunkBytes, key);
        let sent = 0;
        let closedAtKb = -1;
        const send = (async () => {
          if (!(await ws.write(headerFor(1, DECLARED, key)))) return;
          while (sent < DRIBBLED && !ctx.signal.aborted) {
            if (!(await ws.write(filler))) break;
            sent += chunkBytes;
            await sleep(4); // ~16 MB/s per client
          }
        })();
        void ws.closed.then(() => (closedAtKb = Math.round(sent / 1024)));
        return { ws, send, sent: () => sent, closedAtKb: () => closedAtKb };
      }),
    );
    await Promise.race([Promise.all(clients.map((c) => c.send)), sleep(60_000)]);
    await sleep(2000); // hold: is the socket still open, and does the server keep what it read?
    const closed = clients.filter((c) => c.ws.isClosed || c.ws.closeInfo.code);
    const codes = tallyOf(closed.map((c) => c.ws.closeInfo.code ?? c.ws.closeInfo.error ?? 'no close frame'));
    const sentKb = clients.map((c) => Math.round(c.sent() / 1024));
    for (const c of clients) c.ws.destroy();
    ctx.params.closeCodes = codes;
    const got1009 = closed.filter((c) => c.ws.closeInfo.code === 1009).length;
    return {
      figures: { clients: BIG_CLIENTS, declaredMb: DECLARED / 2 ** 20, closed: closed.length, closed1009: got1009, sentKbMax: Math.max(...sentKb), sentKbMin: Math.min(...sentKb) },
      outcome: `closed ${closed.length}/${BIG_CLIENTS}${closed.length ? ` (${codes})` : ' (still open)'}; sent ${round(Math.min(...sentKb) / 1024, 1)}–${round(Math.max(...sentKb) / 1024, 1)} MB`,
    };
  },
};

export const ATTACKS: Attack[] = [deepWs, deepHttp, dribble, topics, longPoll, replay, bigFrame];

// ---- the suite ---------------------------------------------------------------------------------

/** An attack measurement: a LoadMeasurement with scenario `attack` and transport `ws` or `http`. */
export type AttackMeasurement = LoadMeasurement & { scenario: 'attack'; transport: 'ws' | 'http' };

export interface AttackSuiteOptions {
  /** Attack ids to run; default all. */
  only?: string[];
  /** Abort an attack (and kill its server) when the server's RSS passes this, in KB. */
  rssCapKb?: number;
  /** Diagnostic: start the server with --inspect and force GCs at marks (growth retained vs garbage). */
  gc?: boolean;
}

interface Row {
  runtime: string;
  attack: string;
  outcome: string;
  /** The growth the target applies to (peak growth, or for topics/unread attacks their own figure). */
  growthMb: number;
  peakMb: number;
  endMb: number;
  budget: string;
  hz: string;
  hzMaxMs: number;
  alive: boolean;
  pass: boolean;
}

/**
 * Runs the attacks on each of `defs` (the relaykit targets) and adds their measurements to the
 * run; also writes them, with the table, to `run-…-attacks.json`. Returns the failed attacks
 * whose record did not fit the LoadMeasurement schema (counted by the runner besides the
 * measurements; 0 unless the schema and the suite disagree).
 */
export async function attackSuite(state: RunState, defs: TargetDef[], o: AttackSuiteOptions): Promise<number> {
  const attacks = ATTACKS.filter((a) => !o.only || o.only.includes(a.id));
  const rssCapKb = o.rssCapKb ?? 4 * 1024 * 1024;
  const measurements: AttackMeasurement[] = [];
  const rows: Row[] = [];
  const diffStat = sh('git', ['-C', ROOT, 'diff', '--stat']).trim().split('\n').pop() ?? '';
  const head = sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']).trim();
  const distBuilt = ['core', 'contracts'].map((p) => {
    const f = join(ROOT, 'packages', p, 'dist', 'index.js');
    return existsSync(f) ? `${p} dist ${statSync(f).mtime.toISOString()}` : `${p} dist missing`;
  });
  state.log(`attacks: ${attacks.map((a) => a.id).join(', ')} on ${defs.map((d) => d.id).join(', ')}; HEAD ${head}, working tree: ${diffStat || 'clean'}; ${distBuilt.join(', ')}`);
  // The figures go into the run's measurements (LoadScenario "attack", transport "ws" or "http"),
  // where the runner's error accounting sees them; one that does not fit the schema goes only
  // into the attacks file, and the suite counts its failure itself.
  let inRun = 0;
  let failedOutside = 0;
  for (const def of defs) {
    for (const attack of attacks) {
      const m = await runAttack(state, def, attack, o, rssCapKb);
      if (!m) continue;
      measurements.push(m.measurement);
      rows.push(m.row);
      if (LoadMeasurement.safeParse(m.measurement).success) {
        state.measured(m.measurement);
        inRun++;
      } else if (!m.row.pass) failedOutside++;
    }
  }

  printTable(rows, state.log);
  const file = state.outFile.replace(/\.json$/, '-attacks.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        schemaVersion: 1,
        suite: 'attacks',
        startedAt: measurements[0]?.startedAt ?? new Date().toISOString(),
        finishedAt: new Date().toISOString(),
        runtimes: state.run.runtimes,
        machine: state.run.machine,
        git: { head, diffStat, distBuilt },
        targets: { growthMb: 40, topics: 'growth after 20,000 ≤ 2 × growth after the first 1,000 + 20 MB', healthz: 'answers throughout', crashes: 0 },
        measurements,
        table: rows,
      },
      null,
      1,
    ),
  );
  state.log(`attacks: figures in ${file}`);
  const outside = measurements.length - inRun;
  state.note(
    `Attacks suite (issue 8): ${rows.filter((r) => r.pass).length}/${rows.length} attacks within target; figures in ${file.replace(`${ROOT}/`, '')}${inRun ? ' and in measurements (scenario "attack")' : ''}${outside ? ` (${outside} did not match the LoadMeasurement schema and are only in that file)` : ''}. Working tree: ${diffStat || 'clean'}.`,
  );
  return failedOutside;
}

async function runAttack(state: RunState, def: TargetDef, attack: Attack, o: AttackSuiteOptions, rssCapKb: number): Promise<{ measurement: AttackMeasurement; row: Row } | undefined> {
  const env = { ...attack.env };
  const inspectPort = o.gc ? await freePort() : 0;
  let inspecting = false;
  const wrapped: TargetDef = {
    ...def,
    command: (port) => {
      const c = def.command(port);
      const args = inspectPort ? inspectArgs(def.runtime, c.args, inspectPort) : undefined;
      inspecting = !!args;
      return { ...c, args: args ?? c.args, env: { ...c.env, ...env } };
    },
  };
  let server: RunningServer;
  try {
    server = await startServer(wrapped);
  } catch (error) {
    state.error(`${def.id} ${attack.id}: the server did not start: ${String((error as Error).message).slice(0, 800)}`);
    return undefined;
  }
  state.current = server;
  const port = Number(new URL(server.base).port);
  const pid = server.pid;
  const ac = new AbortController();
  const params: Record<string, string | number | boolean> = { attack: attack.id, ...env };
  let peak = 0;
  let capHit = 0;
  let killedAtCap = 0;
  const rss = () => {
    const kb = alive(pid) ? rssKb(pid) : 0;
    if (kb > peak) peak = kb;
    return kb;
  };
  let rssBase = 0;
  const gcFigures: Record<string, number> = {};
  const inspector: InspectorGc | undefined = inspecting ? await connectInspector(inspectPort, 10_000, def.runtime) : undefined;
  if (o.gc) params.gc = inspector ? 'forced GCs through --inspect' : 'not available on this runtime';
  const gcMark = async (name: string) => {
    if (!inspector || !alive(pid)) return;
    const heap = await inspector.collect();
    gcFigures[`${name}AfterGcKb`] = rssKb(pid) - rssBase;
    if (heap !== undefined) gcFigures[`${name}HeapUsedKb`] = heap;
  };
  const ctx: AttackCtx = { port, base: server.base, pid, signal: ac.signal, rss, growthSoFar: () => (rss(), peak - rssBase), baseKb: () => rssBase, gcMark, log: state.log, params };
  const started = Date.now();
  const cpu0 = safeCpu(pid);
  const driver0 = process.cpuUsage();
  const load = loadavg1();
  state.log(`${def.id} ${attack.title}`);
  let result: AttackResult | undefined;
  let failure = '';
  let timedOut = 0;
  let probe: Probe | undefined;
  let monitor: NodeJS.Timeout | undefined;
  try {
    await sleep(500);
    await request(port, 'GET', '/healthz', undefined, undefined, 3000);
    if (attack.setup) {
      await withTimeout(attack.setup(ctx), 60_000, 'setup');
      await sleep(1000);
    }
    if (inspector) {
      await inspector.collect();
      params.baseHeapUsedKb = (await inspector.collect()) ?? -1;
    }
    rssBase = rssKb(pid);
    peak = rssBase;
    const setupKb = rssBase;
    params.rssAfterSetupKb = setupKb;
    monitor = setInterval(() => {
      const kb = rss();
      if (kb > rssCapKb && !capHit) {
        capHit = 1;
        state.log(`    server RSS ${Math.round(kb / MB)} MB passed the ${Math.round(rssCapKb / MB)} MB cap: stopping the attack`);
        ac.abort();
      }
      if (kb > rssCapKb * 1.5 && !killedAtCap) {
        killedAtCap = 1;
        state.log(`    server RSS ${Math.round(kb / MB)} MB: killing the server to protect the machine`);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }, 100);
    probe = startProbe(port);
    const attackRun = attack.run(ctx);
    attackRun.catch(() => {});
    const outcome = await Promise.race([attackRun.then((r) => ({ r })), sleep(attack.timeoutMs).then(() => 'timeout' as const)]);
    if (outcome === 'timeout') {
      timedOut = 1;
      ac.abort();
      state.log(`    timed out after ${attack.timeoutMs / 1000} s; stopping`);
      result = await Promise.race([attackRun, sleep(5000).then(() => undefined)]).catch(() => undefined);
    } else result = outcome.r;
  } catch (error) {
    failure = String((error as Error).message ?? error).slice(0, 500);
    state.log(`    attack failed: ${failure}`);
  }
  await sleep(1000); // /healthz keeps being asked a moment after the attack
  const rssEndRaw = alive(pid) ? rssKb(pid) : 0;
  await gcMark('end').catch(() => {});
  inspector?.close();
  const hz = probe ? await probe.stop() : { polls: 0, ok: 0, failures: 0, maxMs: 0, sumMs: 0, firstFailureAtMs: -1, lastError: 'not started' };
  if (monitor) clearInterval(monitor);
  const survived = alive(pid) && !killedAtCap;
  const rssEnd = survived ? rssEndRaw : 0;
  const durationS = (Date.now() - started) / 1000;
  const cpu = safeCpu(pid) - cpu0;
  const output = server.output();
  await server.stop();
  state.current = undefined;
  if (!survived && !killedAtCap) {
    const why = /(RangeError[^\n]*|FATAL[^\n]*|panicked[^\n]*|out of memory[^\n]*|error: Uncaught[^\n]*)/i.exec(output)?.[1] ?? output.trim().split('\n').slice(-1)[0] ?? '';
    params.crash = why.slice(0, 300);
    state.log(`    the server died: ${why.slice(0, 200)}`);
  }
  if (failure) params.failure = failure;
  if (hz.lastError) params.healthzLastError = hz.lastError;

  const figures: Record<string, number> = {
    rssBaseKb: rssBase,
    rssPeakKb: peak,
    rssEndKb: rssEnd,
    growthPeakKb: peak - rssBase,
    growthEndKb: survived ? rssEnd - rssBase : Number.NaN,
    healthzPolls: hz.polls,
    healthzFailures: hz.failures,
    healthzMaxMs: round(hz.maxMs, 1),
    healthzMeanMs: round(hz.sumMs / Math.max(1, hz.polls), 1),
    alive: survived ? 1 : 0,
    rssCapHit: capHit,
    timedOut,
    ...(result?.figures ?? {}),
    ...gcFigures,
  };
  for (const [k, v] of Object.entries(figures)) if (!Number.isFinite(v)) delete figures[k];
  const b = attack.budget && result ? attack.budget(figures) : { growthKb: peak - rssBase, budgetKb: 40 * MB, rule: '≤ 40 MB' };
  figures.targetGrowthKb = b.growthKb;
  const withinBudget = b.growthKb <= b.budgetKb && !capHit;
  const errors = { crashed: survived || killedAtCap ? 0 : 1, healthzFailures: hz.failures, overMemoryTarget: withinBudget ? 0 : 1, timedOut, attackFailed: failure ? 1 : 0, rssCapHit: capHit };
  const pass = Object.values(errors).every((v) => v === 0);
  figures.budgetKb = Math.round(b.budgetKb);
  const measurement: AttackMeasurement = {
    target: def.id,
    scenario: 'attack',
    transport: attack.transport,
    repeat: 1,
    startedAt: new Date(started).toISOString(),
    durationS: round(durationS, 1),
    loadavg1: load,
    params,
    figures,
    errors,
    server: { pid, cpuMs: cpu, cpuCores: round(cpu / 1000 / durationS, 2), rssPeakKb: peak },
    driver: (() => {
      const u = process.cpuUsage(driver0);
      const ms = (u.user + u.system) / 1000;
      return { workers: 1, cpuMs: round(ms, 0), cpuCores: round(ms / 1000 / durationS, 2) };
    })(),
  };
  const row: Row = {
    runtime: def.runtime,
    attack: attack.id,
    outcome: !survived ? `CRASH${params.crash ? `: ${String(params.crash).slice(0, 60)}` : ''}${result ? `; ${result.outcome}` : ''}` : (result?.outcome ?? (failure || 'no result')),
    growthMb: round(b.growthKb / MB, 1),
    peakMb: round((peak - rssBase) / MB, 1),
    endMb: survived ? round((rssEnd - rssBase) / MB, 1) : Number.NaN,
    budget: b.rule.startsWith('≤ 40 MB') ? b.rule : `${b.rule} = ${round(b.budgetKb / MB, 1)} MB`,
    hz: `${hz.failures}/${hz.polls}`,
    hzMaxMs: Math.round(hz.maxMs),
    alive: survived,
    pass,
  };
  state.log(`    ${pass ? 'PASS' : 'FAIL'}: ${row.outcome}; RSS +${row.growthMb} MB (budget ${row.budget}; peak +${row.peakMb} MB), /healthz failed ${row.hz}, max ${row.hzMaxMs} ms, ${survived ? 'alive' : 'DEAD'}`);
  return { measurement, row };
}

function printTable(rows: Row[], log: (m: string) => void): void {
  const head = ['runtime', 'attack', 'RSS growth MB', 'budget', 'peak MB', 'end MB', '/healthz failed/polls', 'max ms', 'alive', 'result', 'outcome'];
  const lines = rows.map((r) => [r.runtime, r.attack, String(r.growthMb), r.budget, String(r.peakMb), Number.isFinite(r.endMb) ? String(r.endMb) : '-', r.hz, String(r.hzMaxMs), r.alive ? 'yes' : 'NO', r.pass ? 'pass' : 'FAIL', r.outcome]);
  const md = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...lines.map((l) => `| ${l.join(' | ')} |`)];
  log(`attacks:\n${md.join('\n')}`);
}

interface ProbeTally {
  polls: number;
  ok: number;
  failures: number;
  maxMs: number;
  sumMs: number;
  firstFailureAtMs: number;
  lastError: string;
}

interface Probe {
  stop(): Promise<ProbeTally>;
}

function startProbe(port: number): Probe {
  const worker = new Worker(new URL('../healthz-probe.ts', import.meta.url), { workerData: { port, everyMs: 250, timeoutMs: 2000 } });
  const result = new Promise<ProbeTally>((resolve, reject) => {
    worker.once('message', (t: ProbeTally) => resolve(t));
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      const t = await Promise.race([result, sleep(5000).then(() => undefined)]);
      await worker.terminate();
      return t ?? { polls: 0, ok: 0, failures: 1, maxMs: 0, sumMs: 0, firstFailureAtMs: -1, lastError: 'probe did not report' };
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what} timed out after ${ms / 1000} s`)))]);
}

function sh(bin: string, args: string[]): string {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', timeout: 10_000 });
  } catch {
    return '';
  }
}
