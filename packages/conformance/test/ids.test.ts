/**
 * Pins the suite: every case's id, level, section and title is in ids.snapshot.txt, committed. A
 * case removed, renamed, re-levelled or moved fails here; a case added fails until the snapshot is
 * updated on purpose (`pnpm --filter @relaykit/conformance test -- -u`, then review the diff).
 * Runs without a server.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SECTIONS, areas, cases } from '../src/index.ts';

const PROTOCOL = readFileSync(new URL('../../../PROTOCOL.md', import.meta.url), 'utf8');

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

describe('conformance cases as data', () => {
  it('pins every id with its level, section and title (ids.snapshot.txt)', async () => {
    const list = cases().map((c) => `${c.id} ${c.level} §${c.section} ${c.title}`);
    await expect(`${list.join('\n')}\n`).toMatchFileSnapshot('./ids.snapshot.txt');
  });

  it('gives every case a unique, well-formed id in its area', () => {
    const all = cases();
    expect(new Set(all.map((c) => c.id)).size).toBe(all.length);
    for (const c of all) {
      expect(c.id).toMatch(/^[A-Z]+-\d{3}$/);
      expect(['MUST', 'SHOULD']).toContain(c.level);
      expect(c.name).toBe(`${c.id} ${c.level} ${c.title}`);
      expect(typeof c.run).toBe('function');
    }
    // One id prefix per area file (auth: AUTH-, bad-input: BAD-, ...).
    for (const area of areas) expect(new Set(area.cases.map((c) => c.id.split('-')[0])).size, area.name).toBe(1);
  });

  it('links every case to a PROTOCOL.md section that exists', () => {
    const headings = new Map<string, string>();
    for (const m of PROTOCOL.matchAll(/^## ((\d+)\. .+)$/gm)) headings.set(m[2]!, anchor(m[1]!));
    for (const [section, slug] of Object.entries(SECTIONS)) expect(headings.get(section), `§${section}`).toBe(slug);
    for (const c of cases()) {
      expect(c.link).toBe(`PROTOCOL.md#${headings.get(c.section)}`);
      expect(PROTOCOL).toContain(`(#${SECTIONS[c.section]})`); // the table of contents links it the same way
    }
  });
});
