/**
 * Types for the community extension xk6-sse (github.com/phymbert/xk6-sse), which is not part of
 * k6 or @types/k6. Build a k6 binary that has it with:
 *   xk6 build --with github.com/phymbert/xk6-sse@latest
 * `sse.open` blocks its VU until the stream closes: one stream per VU.
 */
declare module 'k6/x/sse' {
  export interface SseEvent {
    id: string;
    name: string;
    data: string;
  }
  export interface SseError {
    error(): string;
  }
  export interface SseClient {
    on(event: 'open', handler: () => void): void;
    on(event: 'event', handler: (event: SseEvent) => void): void;
    on(event: 'error', handler: (error: SseError) => void): void;
    close(): void;
  }
  export interface SseParams {
    method?: string;
    headers?: Record<string, string>;
    tags?: Record<string, string>;
    body?: string;
  }
  export interface SseResponse {
    status: number;
    error: string;
  }
  const sse: {
    open(url: string, params: SseParams | null, callback: (client: SseClient) => void): SseResponse;
  };
  export default sse;
}
