/**
 * Holds writes until the end of the event-loop turn, so that everything one turn sends to a
 * socket (the events of a busy topic, a control frame between them) leaves in one writev instead
 * of one syscall per event: what uWS does for every Bun socket. Node's node:http merges only the
 * writes of one tick; ws not even those. "The turn" ends at setImmediate, after the poll phase's
 * I/O callbacks and the microtasks they queued, so an event waits at most for the rest of the
 * turn that published it.
 */
export interface TurnHeld {
  /** The turn is over: uncork, so the held bytes go to the kernel. */
  endTurn(): void;
}

let held: TurnHeld[] = [];

/** Calls `writer.endTurn()` at the end of this turn; the caller marks itself so it asks once per turn. */
export function holdForTurn(writer: TurnHeld): void {
  if (held.length === 0) setImmediate(endTurn);
  held.push(writer);
}

function endTurn(): void {
  const writers = held;
  held = [];
  for (const writer of writers) writer.endTurn();
}
