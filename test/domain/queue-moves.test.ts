import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { byOne, compareRunOrder, type QueuePlace, toBottom, toTop } from '../../src/domain/queue-moves.js';

const place = (id: string, priority: number, position: number): QueuePlace => ({
  id,
  priority,
  fair: 0,
  position,
  createdAt: 0,
});

function apply(all: QueuePlace[], moves: { id: string; priority: number; position: number }[]): string[] {
  const by = new Map(moves.map((m) => [m.id, m]));
  return all
    .map((p) => ({ ...p, ...by.get(p.id) }))
    .sort(compareRunOrder)
    .map((p) => p.id);
}

describe('queue moves', () => {
  const queue = [place('a', 5, 3), place('b', 0, 1), place('c', 0, 2), place('d', 0, 3), place('e', -2, 0)];

  test('to the top: before every other job, whatever their priority, in their own order', () => {
    assert.deepEqual(apply(queue, toTop([place('d', 0, 3), place('c', 0, 2)], place('a', 5, 3))), [
      'c',
      'd',
      'a',
      'b',
      'e',
    ]);
    assert.deepEqual(apply(queue, toTop([place('e', -2, 0)], place('a', 5, 3))), ['e', 'a', 'b', 'c', 'd']);
  });

  test('to the bottom: after every other job', () => {
    assert.deepEqual(apply(queue, toBottom([place('a', 5, 3), place('b', 0, 1)], place('e', -2, 0))), [
      'c',
      'd',
      'e',
      'a',
      'b',
    ]);
  });

  test('by one place: the job passes exactly its neighbour, across priorities too', () => {
    assert.deepEqual(apply(queue, byOne(place('c', 0, 2), place('b', 0, 1))), ['a', 'c', 'b', 'd', 'e']);
    assert.deepEqual(apply(queue, byOne(place('b', 0, 1), place('a', 5, 3))), ['b', 'a', 'c', 'd', 'e']);
    assert.deepEqual(byOne(place('a', 5, 3), null), []);
  });
});

describe('queue moves among fair-share tags', () => {
  // Equal priority: a batch's items (tags 1, 2, 3) interleaved with one person's jobs (tags 1.5, 2.5).
  const tagged = (id: string, fair: number, position: number): QueuePlace => ({
    id,
    priority: 0,
    fair,
    position,
    createdAt: 0,
  });
  const queue = [
    tagged('b1', 1, 10),
    tagged('p1', 1.5, 50),
    tagged('b2', 2, 11),
    tagged('p2', 2.5, 51),
    tagged('b3', 3, 12),
  ];
  const apply = (moves: { id: string; priority: number; fair: number; position: number }[]) => {
    const by = new Map(moves.map((m) => [m.id, m]));
    return queue
      .map((p) => ({ ...p, ...by.get(p.id) }))
      .sort(compareRunOrder)
      .map((p) => p.id);
  };

  test('one place up passes exactly the neighbour, though its position is lower', () => {
    assert.deepEqual(apply(byOne(queue[2]!, queue[1]!)), ['b1', 'b2', 'p1', 'p2', 'b3']);
  });

  test('to the top and to the bottom pass every tag', () => {
    assert.deepEqual(apply(toTop([queue[4]!], queue[0]!)), ['b3', 'b1', 'p1', 'b2', 'p2']);
    assert.deepEqual(apply(toBottom([queue[0]!], queue[4]!)), ['p1', 'b2', 'p2', 'b3', 'b1']);
  });
});
