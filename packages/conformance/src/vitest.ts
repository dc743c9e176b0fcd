/**
 * The thin loop each vitest file is: one `describe` per group, one `it` per case record, named
 * `<id> <level> <title>` (what `relaykit-conformance -t` matches), the area's hooks around them.
 */
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import type { Area } from './case.ts';
import { configure } from './harness/target.ts';

export function register(area: Area): void {
  configure({ baseUrl: inject('baseUrl'), cmd: inject('cmd'), cwd: inject('cwd'), sharedEnv: inject('sharedEnv'), redisUrl: inject('redisUrl') });
  for (const hook of area.hooks.beforeAll) beforeAll(hook);
  for (const hook of area.hooks.afterAll) afterAll(hook);
  const groups = new Map<string, Area['cases']>();
  for (const c of area.cases) groups.set(c.group, [...(groups.get(c.group) ?? []), c]);
  for (const [group, cases] of groups) {
    describe(group, () => {
      for (const c of cases) it(c.name, (ctx) => c.run(ctx), c.timeoutMs);
    });
  }
}
