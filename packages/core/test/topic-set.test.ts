import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopicSet } from '../src/topic-set.js';

describe('TopicSet', () => {
  it('behaves as a Set of strings, in the array form and past it', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), topic: fc.integer({ min: 0, max: 20 }).map(String) }),
      fc.record({ kind: fc.constant('delete' as const), topic: fc.integer({ min: 0, max: 20 }).map(String) }),
      fc.record({ kind: fc.constant('clear' as const), topic: fc.constant('') }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const set = new TopicSet();
        const model = new Set<string>();
        for (const { kind, topic } of ops) {
          if (kind === 'add') {
            set.add(topic);
            model.add(topic);
          } else if (kind === 'delete') expect(set.delete(topic)).toBe(model.delete(topic));
          else {
            set.clear();
            model.clear();
          }
          expect(set.size).toBe(model.size);
          for (let t = 0; t <= 20; t++) expect(set.has(String(t))).toBe(model.has(String(t)));
          // Insertion order, as a Set keeps it.
          expect([...set]).toEqual([...model]);
        }
      }),
    );
  });

  it('lets a caller delete what it iterates', () => {
    const set = new TopicSet();
    for (let t = 0; t < 12; t++) set.add(`t${t}`);
    const seen: string[] = [];
    for (const topic of set) {
      seen.push(topic);
      set.delete(topic);
    }
    expect(seen).toHaveLength(12);
    expect(set.size).toBe(0);
  });
});
