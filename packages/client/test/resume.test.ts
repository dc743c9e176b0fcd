import type { Envelope } from '@relaykit/contracts';
import { describe, expect, test } from 'vitest';
import { ResumeState } from '../src/resume.ts';

const ev = (id: string, topic = 'a'): Envelope => ({ id, topic, type: 't', data: null, time: 0 });

describe('ResumeState', () => {
  test('tracks the last id received and drops what it has seen', () => {
    const r = new ResumeState();
    expect(r.lastId).toBeUndefined();
    expect(r.accept(ev('e-1'))).toBe(true);
    expect(r.accept(ev('e-2', 'b'))).toBe(true);
    expect(r.accept(ev('e-1'))).toBe(false);
    expect(r.lastId).toBe('e-2');
  });

  test('a duplicate does not move the resume point back', () => {
    const r = new ResumeState();
    r.accept(ev('x-1'));
    r.accept(ev('x-2'));
    r.accept(ev('x-1'));
    expect(r.lastId).toBe('x-2');
  });

  test('remembers a bounded window of ids', () => {
    const r = new ResumeState(3);
    for (const id of ['1', '2', '3', '4']) r.accept(ev(id));
    expect(r.hasSeen('1')).toBe(false);
    expect(r.hasSeen('2')).toBe(true);
    expect(r.hasSeen('4')).toBe(true);
    expect(r.accept(ev('1'))).toBe(true);
  });

  test('ids are opaque: only equality is used', () => {
    const r = new ResumeState();
    r.accept(ev('zzz'));
    r.accept(ev('aaa'));
    expect(r.lastId).toBe('aaa');
  });

  test('a reset moves the resume point to the server position', () => {
    const r = new ResumeState();
    r.accept(ev('old-5'));
    r.reset('new-0', ['a']);
    expect(r.lastId).toBe('new-0');
    expect(r.cursorFor('a')).toBe('new-0');
    r.reset(undefined, ['a']);
    expect(r.lastId).toBe('new-0');
  });

  test('long-poll cursors: per topic, fresh topics start at the server position, others fall back to lastId', () => {
    const r = new ResumeState();
    r.addTopic('fresh');
    expect(r.cursorFor('fresh')).toBeUndefined();
    r.accept(ev('s-3', 'other'));
    expect(r.cursorFor('fresh')).toBeUndefined();
    expect(r.cursorFor('unknown')).toBe('s-3');
    r.setCursor('fresh', 's-2');
    expect(r.cursorFor('fresh')).toBe('s-2');
    r.accept(ev('s-4', 'fresh'));
    expect(r.cursorFor('fresh')).toBe('s-4');
    r.forgetTopic('fresh');
    expect(r.cursorFor('fresh')).toBe('s-4');
  });

  test('the WebSocket welcome position is a resume point only until an event arrives', () => {
    const r = new ResumeState();
    r.baseline('p-7');
    expect(r.lastId).toBe('p-7');
    r.accept(ev('p-8'));
    r.baseline('p-9');
    expect(r.lastId).toBe('p-8');
  });
});
