import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { byOne, compareRunOrder, type QueuePlace, toBottom, toTop } from '../../src/domain/queue-moves.js';

const place = (id: string, priority: number, position: number): QueuePlace => ({
  id,
  priority,
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
