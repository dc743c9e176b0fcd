/**
 * Conformance as data: every case is a record `{ id, level, section, title, run }`, grouped by area
 * (one module per area under ./cases, the file name is the area). The vitest files are thin loops
 * over these records (./vitest.ts); the ids are pinned by test/ids.test.ts.
 */
import type { CaseContext } from './harness/target.ts';

export type { CaseContext };

export type Level = 'MUST' | 'SHOULD';

/** PROTOCOL.md's numbered sections, with their GitHub anchors (test/ids.test.ts checks them against the file). */
export const SECTIONS = {
  '1': '1-events-and-ids',
  '2': '2-names',
  '3': '3-server-sent-events-get-v1events',
  '4': '4-websocket-get-v1ws',
  '5': '5-http-publish-post-v1topicstopicevents',
  '6': '6-long-polling-get-v1topicstopicevents',
  '7': '7-history-resume-and-the-reset-signal',
  '8': '8-heartbeats-and-liveness',
  '9': '9-errors-and-close-codes',
  '10': '10-authentication',
  '11': '11-limits',
  '12': '12-health-metrics-shutdown',
  '13': '13-configuration',
  '14': '14-presence',
} as const;

export type Section = keyof typeof SECTIONS;

/** One case as an area module writes it. */
export interface CaseDef {
  /** Stable id, `<AREA>-<NNN>`; never reused or renamed (test/ids.test.ts pins the list). */
  id: string;
  level: Level;
  /** The PROTOCOL.md section the case proves (its number, e.g. '7' for §7). */
  section: Section;
  /** What the server MUST/SHOULD do, as a sentence after the level. */
  title: string;
  /** Throws (an assertion error) when the server does not conform; `ctx.skip()` when it cannot be proven here. */
  run: (ctx: CaseContext) => Promise<void> | void;
  /** A longer time limit than the suite's 30 s, for cases that must. */
  timeoutMs?: number;
}

/** One case as `cases()` returns it. */
export interface Case extends CaseDef {
  /** The area module it belongs to (also its vitest file): 'sse', 'resume', ... */
  area: string;
  /** The group it is reported under (vitest's describe). */
  group: string;
  /** `<id> <level> <title>`: the vitest test name (what `-t` matches). */
  name: string;
  /** `PROTOCOL.md#<anchor>` of its section. */
  link: string;
}

export type Hook = () => Promise<void> | void;

/** One area module: hooks that run once around its cases (as vitest's beforeAll/afterAll), and its cases by group. */
export interface Area {
  readonly name: string;
  readonly cases: Case[];
  readonly hooks: { readonly beforeAll: Hook[]; readonly afterAll: Hook[] };
  beforeAll(hook: Hook): void;
  afterAll(hook: Hook): void;
  describe(group: string, cases: CaseDef[]): void;
}

export const sectionLink = (section: Section): string => `PROTOCOL.md#${SECTIONS[section]}`;

export function defineArea(name: string): Area {
  const cases: Case[] = [];
  const hooks = { beforeAll: [] as Hook[], afterAll: [] as Hook[] };
  return {
    name,
    cases,
    hooks,
    beforeAll: (hook) => void hooks.beforeAll.push(hook),
    afterAll: (hook) => void hooks.afterAll.push(hook),
    describe(group, defs) {
      for (const def of defs) {
        cases.push({ ...def, area: name, group, name: `${def.id} ${def.level} ${def.title}`, link: sectionLink(def.section) });
      }
    },
  };
}
