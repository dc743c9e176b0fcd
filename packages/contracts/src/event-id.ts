import { z } from 'zod';

/**
 * Event ids are `<epoch>-<seq>`: `epoch` names one broker lifetime (it never repeats across a
 * restart), `seq` is one counter shared by every topic of that broker. Clients treat ids as opaque;
 * only servers parse them.
 */
export const EventId = z
  .string()
  .min(1)
  .max(128)
  .describe('Opaque event id; totally ordered across all topics of one broker');
export type EventId = z.infer<typeof EventId>;

export interface ParsedEventId {
  epoch: string;
  seq: number;
}

const ID_PATTERN = /^([0-9a-z]{1,32})-(0|[1-9][0-9]{0,15})$/;

export function formatEventId(epoch: string, seq: number): string {
  return `${epoch}-${seq}`;
}

/** Returns undefined for anything this protocol could not have issued. */
export function parseEventId(id: string): ParsedEventId | undefined {
  const match = ID_PATTERN.exec(id);
  if (!match) return undefined;
  const seq = Number(match[2]);
  if (!Number.isSafeInteger(seq)) return undefined;
  return { epoch: match[1]!, seq };
}

/** A fresh epoch: milliseconds since 1970 in base 36 plus randomness, so restarts never collide. */
export function newEpoch(now: number = Date.now()): string {
  const random = Math.floor(Math.random() * 36 ** 4)
    .toString(36)
    .padStart(4, '0');
  return `${now.toString(36)}${random}`;
}

/**
 * Orders two ids of the `<epoch>-<seq>` form: by epoch (epochs start with their base-36 start
 * time, so a later broker lifetime sorts after an earlier one), then by seq. Ids of another form
 * compare as strings. Servers only: clients treat ids as opaque.
 */
export function compareEventIds(a: string, b: string): number {
  const pa = parseEventId(a);
  const pb = parseEventId(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  if (pa.epoch !== pb.epoch) return pa.epoch < pb.epoch ? -1 : 1;
  return pa.seq - pb.seq;
}
