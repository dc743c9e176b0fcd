/**
 * Deno writes a WebSocket frame (and moves a response-body chunk on to the socket) in a task that
 * runs only once the current macrotask yields. So everything sent during one turn reads as
 * "buffered" (`WebSocket.bufferedAmount`, a body stream's `desiredSize`) even when the socket would
 * take it at once, and a burst of events to a healthy client would look like a slow consumer.
 * Node's `ws` writes to the socket synchronously and reports only what the kernel refused.
 *
 * To report the same thing, each connection counts the bytes it handed over during the current
 * turn; one shared timer per turn clears the counts. What is still buffered beyond those bytes was
 * queued in an earlier turn and has not gone out since: that is the backlog.
 */
export interface TurnCounted {
  sentThisTurn: number;
}

const counted = new Set<TurnCounted>();
let scheduled = false;

function nextTurn(): void {
  scheduled = false;
  for (const connection of counted) connection.sentThisTurn = 0;
  counted.clear();
}

export function countSent(connection: TurnCounted, bytes: number): void {
  if (connection.sentThisTurn === 0) counted.add(connection);
  connection.sentThisTurn += bytes;
  if (!scheduled) {
    scheduled = true;
    setTimeout(nextTurn, 0);
  }
}

/** Bytes queued before this turn and still unsent. */
export function backlog(connection: TurnCounted, buffered: number): number {
  return Math.max(0, buffered - connection.sentThisTurn);
}
