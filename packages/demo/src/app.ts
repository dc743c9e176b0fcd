import { type PresenceChange, type PresenceMember, type RelayClient, type RelayEvent, type StateChange, createClient } from '@relaykit/client';

type Transport = 'auto' | 'sse' | 'ws' | 'poll';
const MAX_ROWS = 500;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const transportSelect = $<HTMLSelectElement>('transport');
const pauseHidden = $<HTMLInputElement>('pause-hidden');
transportSelect.value = params.get('transport') ?? 'auto';
pauseHidden.checked = params.get('pauseHidden') === '1';
const topics = new Set((params.get('topics') ?? 'demo').split(',').filter(Boolean));

/** What the page received, for people and for the end-to-end tests. */
const received: RelayEvent[] = [];
const resets: { code: string; topics: string[] }[] = [];
const states: StateChange[] = [];
const perSecond = new Map<number, number>();
/** Who holds each subscribed topic: read when a connection opens, then kept by joins and leaves. */
const members = new Map<string, Map<string, PresenceMember>>();
let client: RelayClient;

function start(): void {
  client?.close();
  const transport = transportSelect.value as Transport;
  client = createClient({
    transport,
    topics: [...topics],
    pauseWhenHidden: pauseHidden.checked,
    backoff: { baseMs: Number(params.get('backoffMs') ?? 500) },
    openTimeoutMs: Number(params.get('openTimeoutMs') ?? 5000),
    presence: true,
  });
  client.on('presence', (change) => {
    // A read in flight may answer with a list older than this change: it is applied after it.
    const held = changesDuringRead.get(change.topic);
    if (held) return void held.push(change);
    applyChange(change);
    renderMembers();
  });
  client.on('state', showState);
  client.on('transport', (change) => log(`transport → ${change.transport}: ${change.reason}`));
  client.on('event', showEvent);
  client.on('reset', (reset) => {
    resets.push(reset);
    const banner = $('reset');
    banner.hidden = false;
    banner.dataset.code = reset.code;
    banner.textContent = `Cannot resume ${reset.topics.join(', ')} (${reset.code}): the server no longer holds the events since the last one seen, so some may have been missed.`;
    log(`reset (${reset.code}) on ${reset.topics.join(', ')} over ${reset.transport}`);
  });
  client.on('error', (error) => log(`error ${error.code}: ${error.message}`));
  const url = new URL(location.href);
  url.searchParams.set('transport', transport);
  url.searchParams.set('topics', [...topics].join(','));
  history.replaceState(null, '', url);
  renderTopics();
}

/** Joins and leaves heard while a topic's members are being read, in the order heard. */
const changesDuringRead = new Map<string, PresenceChange[]>();

function applyChange(change: PresenceChange): void {
  const list = members.get(change.topic);
  if (!list) return;
  if (change.action === 'join') list.set(change.member.connectionId, change.member);
  else list.delete(change.member.connectionId);
}

/**
 * Reads every topic's members (on open; every few seconds over long polling, which gets no joins or
 * leaves). A change can arrive on the stream before the answer that predates it: replaying those
 * heard meanwhile, in order, over the answer ends at the right list whichever came first.
 */
async function readMembers(): Promise<void> {
  for (const topic of topics) {
    const held: PresenceChange[] = [];
    changesDuringRead.set(topic, held);
    try {
      const state = await client.presence(topic);
      members.set(topic, new Map(state.members.map((m) => [m.connectionId, m])));
      for (const change of held) applyChange(change);
    } catch (error) {
      log(`presence of ${topic}: ${(error as Error).message}`);
    } finally {
      if (changesDuringRead.get(topic) === held) changesDuringRead.delete(topic);
    }
  }
  for (const topic of members.keys()) if (!topics.has(topic)) members.delete(topic);
  renderMembers();
}

function renderMembers(): void {
  $('members').replaceChildren(
    ...[...members].flatMap(([topic, list]) =>
      [...list.values()].map((member) => {
        const item = document.createElement('li');
        item.dataset.connectionId = member.connectionId;
        item.dataset.topic = topic;
        item.textContent = `${topic}: ${member.user ?? member.connectionId} (${member.transport})`;
        return item;
      }),
    ),
  );
  $('member-count').textContent = String([...members.values()].reduce((n, list) => n + list.size, 0));
}

function showState(change: StateChange): void {
  states.push(change);
  if (change.state === 'open') void readMembers();
  const badge = $('state');
  badge.dataset.state = change.state;
  badge.textContent = `${change.state} · ${change.transport}`;
  $('transport-reason').textContent = client.transportReason;
  const extra =
    change.state === 'reconnecting'
      ? ` attempt ${change.attempt}, in ${change.delayMs} ms${change.reason ? ` (${change.reason})` : ''}`
      : change.reason
        ? ` (${change.reason})`
        : '';
  log(`${change.state} via ${change.transport}${extra}`);
}

function log(text: string): void {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  const list = $('log');
  list.prepend(item);
  while (list.childElementCount > 200) list.lastElementChild!.remove();
}

function showEvent(event: RelayEvent): void {
  received.push(event);
  const second = Math.floor(Date.now() / 1000);
  perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  const row = document.createElement('tr');
  row.dataset.id = event.id;
  row.dataset.topic = event.topic;
  for (const text of [event.id, event.topic, event.type, JSON.stringify(event.data), `${Math.max(0, Date.now() - event.time)} ms`]) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  }
  const body = $('events');
  body.prepend(row);
  while (body.childElementCount > MAX_ROWS) body.lastElementChild!.remove();
  $('count').textContent = String(received.length);
}

function renderTopics(): void {
  const list = $('topics');
  list.replaceChildren(
    ...[...topics].map((topic) => {
      const item = document.createElement('li');
      item.dataset.topic = topic;
      item.append(topic);
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.title = `unsubscribe from ${topic}`;
      remove.textContent = '×';
      remove.onclick = () => {
        topics.delete(topic);
        client.unsubscribe(topic);
        renderTopics();
        members.delete(topic);
        renderMembers();
      };
      item.append(remove);
      return item;
    }),
  );
}

function drawChart(): void {
  const canvas = $<HTMLCanvasElement>('chart');
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const now = Math.floor(Date.now() / 1000);
  const values = Array.from({ length: 60 }, (_, i) => perSecond.get(now - 59 + i) ?? 0);
  for (const second of perSecond.keys()) if (second < now - 60) perSecond.delete(second);
  const max = Math.max(5, ...values);
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = '#3b6fd8';
  const bar = width / values.length;
  values.forEach((value, i) => {
    const h = (value / max) * (height - 12);
    ctx.fillRect(i * bar + 1, height - h, bar - 2, h);
  });
  ctx.fillStyle = '#889';
  ctx.font = '10px sans-serif';
  ctx.fillText(`max ${max}/s`, 4, 10);
  $('rate').textContent = `(${values[values.length - 2]}/s last second)`;
}

$<HTMLFormElement>('subscribe-form').onsubmit = (event) => {
  event.preventDefault();
  const topic = $<HTMLInputElement>('topic').value.trim();
  if (!topic || topics.has(topic)) return;
  topics.add(topic);
  client.subscribe(topic);
  renderTopics();
  void readMembers();
};

$<HTMLFormElement>('publish-form').onsubmit = async (event) => {
  event.preventDefault();
  const result = $('pub-result');
  let data: unknown;
  try {
    data = JSON.parse($<HTMLTextAreaElement>('pub-data').value || 'null');
  } catch {
    result.textContent = 'data is not JSON';
    return;
  }
  const started = performance.now();
  try {
    const id = await client.publish($<HTMLInputElement>('pub-topic').value.trim(), $<HTMLInputElement>('pub-type').value.trim(), data);
    result.textContent = `stored as ${id} in ${Math.round(performance.now() - started)} ms`;
    result.dataset.id = id;
  } catch (error) {
    result.textContent = `rejected: ${(error as Error).message}`;
  }
};

transportSelect.onchange = start;
pauseHidden.onchange = start;
$('reconnect').onclick = start;

Object.assign(globalThis, { relaykitDemo: { get client() { return client; }, received, resets, states, members } });
start();
setInterval(drawChart, 500);
setInterval(() => {
  if (client.transport === 'poll' && client.state === 'open') void readMembers();
}, 5000);
