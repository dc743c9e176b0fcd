/**
 * Holds writes until the end of the event-loop turn, so that everything one turn sends to a
 * connection (the events of a busy topic, a control frame between them) leaves in one write
 * instead of one per event: what uWS does for every Bun WebSocket. Node's node:http merges only
 * the writes of one tick, ws not even those, and a Bun direct stream pays for each
 * controller.write (joining a turn's writes took Bun 1.4.5 from 2.9 to 0.62 us of server CPU per
 * delivered SSE event). "The turn" ends at setImmediate (the same on Node, Bun and Deno), after
 * the poll phase's I/O callbacks and the microtasks they queued, so an event waits at most for the
 * rest of the turn that published it.
 */
export abstract class TurnCorked {
  private held = false;
  /** Bytes the kernel had not taken when this turn's first write was corked. */
  private backlog = 0;

  /**
   * Call before each write: corks on the turn's first one. True when an earlier turn left bytes
   * unsent, which is backpressure; the bytes held in this turn are not.
   */
  protected holdForTurn(): boolean {
    if (!this.held) {
      this.held = true;
      this.backlog = this.unsentBytes();
      this.cork();
      if (held.length === 0) setImmediate(endTurn);
      held.push(this);
    }
    return this.backlog > 0;
  }

  /** The turn is over (or the stream is ending): uncork, so the held bytes go to the kernel. */
  endTurn(): void {
    if (!this.held) return;
    this.held = false;
    this.uncork();
  }

  protected abstract unsentBytes(): number;
  protected abstract cork(): void;
  protected abstract uncork(): void;
}

/**
 * A sink that holds the turn's chunks itself (an SSE stream: its transport has no cork of its own
 * that would join them) and hands them to `writeTurn` together at the end of the turn.
 */
export abstract class TurnBuffered extends TurnCorked {
  /** The turn's chunks, shared with every other stream that got the same events. */
  private readonly chunks: Uint8Array[] = [];
  /** Bytes held in this turn, not yet given to the transport. */
  protected heldBytes = 0;

  /** Holds `chunk` for the turn. True when an earlier turn left bytes unsent (backpressure). */
  protected hold(chunk: Uint8Array): boolean {
    const backpressure = this.holdForTurn();
    this.chunks.push(chunk);
    this.heldBytes += chunk.byteLength;
    return backpressure;
  }

  protected cork(): void {}

  protected uncork(): void {
    if (this.heldBytes === 0) return;
    try {
      this.writeTurn(this.chunks, this.heldBytes);
    } finally {
      this.chunks.length = 0;
      this.heldBytes = 0;
    }
  }

  /** Writes one turn's chunks (`bytes` in all, never 0); the array is emptied afterwards. */
  protected abstract writeTurn(chunks: readonly Uint8Array[], bytes: number): void;
}

let held: TurnCorked[] = [];

function endTurn(): void {
  const writers = held;
  held = [];
  for (const writer of writers) writer.endTurn();
}
