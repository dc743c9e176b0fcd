/**
 * @relaykit/conformance: the protocol conformance suite as data. `cases(options)` returns every
 * case as a record `{ id, level, section, title, run, ... }`; the vitest files (./cases/*.test.ts)
 * are thin loops over them, and `relaykit-conformance` runs those. The spawn function the whole
 * repository starts servers with is `@relaykit/conformance/server`; the smoke test every app runs
 * is `@relaykit/conformance/smoke`.
 */
import type { Area, Case } from './case.ts';
import auth from './cases/auth.ts';
import badInput from './cases/bad-input.ts';
import cross from './cases/cross.ts';
import history from './cases/history.ts';
import http from './cases/http.ts';
import lifecycle from './cases/lifecycle.ts';
import limits from './cases/limits.ts';
import metrics from './cases/metrics.ts';
import origin from './cases/origin.ts';
import poll from './cases/poll.ts';
import presence from './cases/presence.ts';
import rate from './cases/rate.ts';
import resume from './cases/resume.ts';
import sse from './cases/sse.ts';
import ws from './cases/ws.ts';
import { type Target, configure } from './harness/target.ts';

export { SECTIONS, sectionLink } from './case.ts';
export type { Area, Case, CaseContext, CaseDef, Level, Section } from './case.ts';
export type { Target } from './harness/target.ts';

/** Every area, in the order the suite runs them (vitest runs the files alphabetically). */
export const areas: readonly Area[] = [auth, badInput, cross, history, http, lifecycle, limits, metrics, origin, poll, presence, rate, resume, sse, ws];

/**
 * Every case, area by area in file order. With `options`, the harness is pointed at that server
 * first (`baseUrl`; `cmd` and `cwd` for the cases that start their own servers, else they skip);
 * without, the records are for listing (their `run` needs a configured target). Hooks an area needs
 * around its cases (a shared bystander, a server with auth) are in `areas[i].hooks`.
 */
export function cases(options?: Partial<Target> & { baseUrl: string }): Case[] {
  if (options) configure(options);
  return areas.flatMap((area) => area.cases);
}
