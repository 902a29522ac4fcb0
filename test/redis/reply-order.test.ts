/**
 * The reply-order deadline ring: entries leave oldest first, any expired entry is found
 * whatever its budget, and the ring stays correct across compactions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplyOrderDeadlines } from '../../src/redis/reply-order.js';

test('an empty ring has nothing expired', () => {
  const ring = new ReplyOrderDeadlines();
  assert.equal(ring.size, 0);
  assert.equal(ring.expired(1_000), undefined);
  ring.shift(); // a stray settle never goes negative
  assert.equal(ring.size, 0);
});

test('a younger command with a shorter budget expires before an older one', () => {
  const ring = new ReplyOrderDeadlines();
  ring.push(0, 100, 1000); // sent at tick 0, 100 ticks
  ring.push(5, 25, 250); // sent at tick 5, 25 ticks
  assert.equal(ring.expired(30), undefined);
  assert.equal(ring.expired(31), 250);
  ring.shift();
  ring.shift();
  assert.equal(ring.size, 0);
});

test('replies remove the oldest entries, through many compactions', () => {
  const ring = new ReplyOrderDeadlines();
  let sent = 0;
  let answered = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 100; i++) ring.push(sent++, 10, 100);
    for (let i = 0; i < 90; i++, answered++) ring.shift();
    assert.equal(ring.size, sent - answered);
    // The oldest in flight was sent at tick `answered`: expired exactly after answered + 10.
    assert.equal(ring.expired(answered + 10), undefined);
    assert.equal(ring.expired(answered + 11), 100);
  }
});
