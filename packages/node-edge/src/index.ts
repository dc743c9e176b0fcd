export { createRelayServer, freePort, listenRelay, stopListening } from './server.js';
export { NodeSink, serveSse } from './sse.js';
export { NodePeer, isWebSocketUpgrade, serveWs } from './ws.js';
