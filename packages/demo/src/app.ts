import { type RelayClient, type RelayEvent, type StateChange, createClient } from '@relaykit/client';

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

function showState(change: StateChange): void {
  states.push(change);
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

Object.assign(globalThis, { relaykitDemo: { get client() { return client; }, received, resets, states } });
start();
setInterval(drawChart, 500);
