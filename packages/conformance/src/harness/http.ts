import { ErrorBody, HistoryResponse, PollResponse, PresenceResponse, PublishResponse } from '@relaykit/contracts';
import { expect } from 'vitest';
import { baseUrl } from './target.ts';

/**
 * Validates against a contract schema but returns the value as received: zod copies records key by
 * key, which drops "__proto__" keys, and the data must be compared exactly as the server sent it.
 */
export function validated<T>(schema: { parse(value: unknown): T }, value: unknown): T {
  schema.parse(value);
  return value as T;
}

export function topicUrl(topic: string, base = baseUrl()): string {
  return `${base}/v1/topics/${encodeURIComponent(topic)}/events`;
}

export async function publish(
  topic: string,
  type: string,
  data: unknown,
  key?: string,
  base = baseUrl(),
): Promise<{ status: number; body: PublishResponse }> {
  const response = await fetch(topicUrl(topic, base), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(key === undefined ? { type, data } : { type, data, key }),
  });
  const json = await response.json();
  if (response.status >= 300) throw new Error(`publish answered ${response.status}: ${JSON.stringify(json)}`);
  return { status: response.status, body: PublishResponse.parse(json) };
}

export async function poll(
  topic: string,
  params: { after?: string; wait?: number | string } = {},
  base = baseUrl(),
  signal?: AbortSignal,
): Promise<PollResponse> {
  const url = new URL(topicUrl(topic, base));
  if (params.after !== undefined) url.searchParams.set('after', params.after);
  if (params.wait !== undefined) url.searchParams.set('wait', String(params.wait));
  const response = await fetch(url, signal ? { signal } : {});
  const json = await response.json();
  if (response.status !== 200) throw new Error(`poll answered ${response.status}: ${JSON.stringify(json)}`);
  return validated(PollResponse, json);
}

/** Sends a request and checks the JSON error body; returns the parsed error. */
export function historyUrl(topic: string, params: { limit?: number | string; before?: string } = {}, base = baseUrl()): URL {
  const url = new URL(`${base}/v1/topics/${encodeURIComponent(topic)}/history`);
  if (params.limit !== undefined) url.searchParams.set('limit', String(params.limit));
  if (params.before !== undefined) url.searchParams.set('before', params.before);
  return url;
}

/** `GET /v1/topics/:topic/history`, which must answer 200 with a HistoryResponse. */
export async function history(
  topic: string,
  params: { limit?: number | string; before?: string } = {},
  base = baseUrl(),
): Promise<HistoryResponse> {
  const response = await fetch(historyUrl(topic, params, base));
  const json = await response.json();
  if (response.status !== 200) throw new Error(`history answered ${response.status}: ${JSON.stringify(json)}`);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return validated(HistoryResponse, json);
}

export function presenceUrl(topic: string, base = baseUrl()): URL {
  return new URL(`${base}/v1/topics/${encodeURIComponent(topic)}/presence`);
}

/** `GET /v1/topics/:topic/presence`, which must answer 200 with a PresenceResponse. */
export async function presence(topic: string, base = baseUrl(), init: RequestInit = {}): Promise<PresenceResponse> {
  const response = await fetch(presenceUrl(topic, base), init);
  const json = await response.json();
  if (response.status !== 200) throw new Error(`presence answered ${response.status}: ${JSON.stringify(json)}`);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return validated(PresenceResponse, json);
}

export async function expectHttpError(
  response: Response | Promise<Response>,
  status: number,
  code: string,
): Promise<ErrorBody['error']> {
  const res = await response;
  const text = await res.text();
  expect(res.status, `status for ${text}`).toBe(status);
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  const body = ErrorBody.parse(JSON.parse(text));
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}
