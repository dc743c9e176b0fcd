import { z } from 'zod';
import { Envelope } from './envelope.js';
import { ErrorBody } from './errors.js';
import { ClientFrame, PROTOCOL_VERSION, ServerFrame } from './frames.js';
import { HistoryResponse, PollResponse, PublishRequest, PublishResponse, ResetSignal } from './http.js';
import { PresenceChange, PresenceResponse } from './presence.js';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });

/** The protocol as an AsyncAPI 3 document, generated from the same zod schemas the servers use. */
export function buildAsyncApi(): Record<string, unknown> {
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'relaykit',
      version: PROTOCOL_VERSION,
      description:
        'One real-time event protocol served over Server-Sent Events, WebSocket and HTTP long polling. See PROTOCOL.md.',
    },
    defaultContentType: 'application/json',
    channels: {
      events: {
        address: '/v1/events',
        title: 'Server-Sent Events stream',
        description:
          'GET with repeated `topic` query parameters. Each SSE event has `id:` the envelope id, `event:` its type and `data:` the envelope as one-line JSON. `event: reset` carries the cannot-resume signal; with `presence=1`, `event: presence` (no `id:`) a join or a leave.',
        messages: {
          envelope: { $ref: '#/components/messages/envelope' },
          reset: { $ref: '#/components/messages/reset' },
          presence: { $ref: '#/components/messages/presenceChange' },
        },
      },
      ws: {
        address: '/v1/ws',
        title: 'WebSocket',
        description: 'JSON text frames discriminated by `type`.',
        messages: {
          clientFrame: { $ref: '#/components/messages/clientFrame' },
          serverFrame: { $ref: '#/components/messages/serverFrame' },
        },
      },
      topicEvents: {
        address: '/v1/topics/{topic}/events',
        title: 'HTTP publish (POST) and long polling (GET)',
        parameters: { topic: { description: 'Topic name' } },
        messages: {
          publishRequest: { $ref: '#/components/messages/publishRequest' },
          publishResponse: { $ref: '#/components/messages/publishResponse' },
          pollResponse: { $ref: '#/components/messages/pollResponse' },
          error: { $ref: '#/components/messages/error' },
        },
      },
      topicPresence: {
        address: '/v1/topics/{topic}/presence',
        title: 'Presence (GET)',
        description: 'Who holds one topic: its SSE and WebSocket members, their count and the number of distinct users.',
        parameters: { topic: { description: 'Topic name' } },
        messages: {
          presenceResponse: { $ref: '#/components/messages/presenceResponse' },
          error: { $ref: '#/components/messages/error' },
        },
      },
      topicHistory: {
        address: '/v1/topics/{topic}/history',
        title: 'History API (GET ?limit=&before=)',
        description: 'The newest held events of one topic before `before` (or before now), oldest first, with the broker position to go live from.',
        parameters: { topic: { description: 'Topic name' } },
        messages: {
          historyResponse: { $ref: '#/components/messages/historyResponse' },
          error: { $ref: '#/components/messages/error' },
        },
      },
    },
    operations: {
      receiveEvents: { action: 'send', channel: { $ref: '#/channels/events' } },
      sendClientFrames: { action: 'receive', channel: { $ref: '#/channels/ws' }, messages: [{ $ref: '#/channels/ws/messages/clientFrame' }] },
      sendServerFrames: { action: 'send', channel: { $ref: '#/channels/ws' }, messages: [{ $ref: '#/channels/ws/messages/serverFrame' }] },
      publish: { action: 'receive', channel: { $ref: '#/channels/topicEvents' }, messages: [{ $ref: '#/channels/topicEvents/messages/publishRequest' }] },
    },
    components: {
      messages: {
        envelope: { name: 'envelope', payload: schema(Envelope) },
        reset: { name: 'reset', payload: schema(ResetSignal) },
        clientFrame: { name: 'clientFrame', payload: schema(ClientFrame) },
        serverFrame: { name: 'serverFrame', payload: schema(ServerFrame) },
        publishRequest: { name: 'publishRequest', payload: schema(PublishRequest) },
        publishResponse: { name: 'publishResponse', payload: schema(PublishResponse) },
        pollResponse: { name: 'pollResponse', payload: schema(PollResponse) },
        historyResponse: { name: 'historyResponse', payload: schema(HistoryResponse) },
        presenceResponse: { name: 'presenceResponse', payload: schema(PresenceResponse) },
        presenceChange: { name: 'presenceChange', payload: schema(PresenceChange) },
        error: { name: 'error', payload: schema(ErrorBody) },
      },
    },
  };
}
