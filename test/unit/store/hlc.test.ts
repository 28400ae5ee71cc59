import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareHlc, createHlcClock, decodeHlc, encodeHlc, hlcReceive, hlcTick, type HlcTimestamp } from '../../../src/agent/store/hlc.ts';
import { seededRandom } from '../../support/seeded-random.ts';

describe('hybrid logical clock', () => {
  it('ticks with the wall clock and counts within one millisecond', () => {
    assert.deepEqual(hlcTick({ wall: 5, logical: 3 }, 9), { wall: 9, logical: 0 });
    assert.deepEqual(hlcTick({ wall: 9, logical: 0 }, 9), { wall: 9, logical: 1 });
    // A clock that steps back does not take the HLC back.
    assert.deepEqual(hlcTick({ wall: 9, logical: 1 }, 4), { wall: 9, logical: 2 });
  });

  it('receives: the result is above both the local and the remote timestamp', () => {
    assert.deepEqual(hlcReceive({ wall: 5, logical: 1 }, { wall: 7, logical: 4 }, 6), { wall: 7, logical: 5 });
    assert.deepEqual(hlcReceive({ wall: 7, logical: 9 }, { wall: 7, logical: 4 }, 6), { wall: 7, logical: 10 });
    assert.deepEqual(hlcReceive({ wall: 7, logical: 9 }, { wall: 3, logical: 4 }, 6), { wall: 7, logical: 10 });
    assert.deepEqual(hlcReceive({ wall: 7, logical: 9 }, { wall: 3, logical: 4 }, 8), { wall: 8, logical: 0 });
  });

  it('encodes to fixed-width text that sorts like the timestamps', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 1e9);
    const rnd = seededRandom(seed);
    const ts: HlcTimestamp[] = [];
    for (let i = 0; i < 500; i++) ts.push({ wall: Math.floor(rnd() * 2e12), logical: Math.floor(rnd() * 5) });
    for (const t of ts) assert.deepEqual(decodeHlc(encodeHlc(t)), t, `seed ${seed}`);
    const byText = [...ts].sort((a, b) => (encodeHlc(a) < encodeHlc(b) ? -1 : encodeHlc(a) > encodeHlc(b) ? 1 : 0));
    const byValue = [...ts].sort(compareHlc);
    assert.deepEqual(byText, byValue, `seed ${seed}`);
    assert.equal(decodeHlc('12'), undefined);
    assert.equal(decodeHlc(undefined), undefined);
  });

  it('a clock issues increasing timestamps and stays ahead of what it observed, despite skew', () => {
    let physical = 1_000;
    const slow = createHlcClock(() => physical);
    const fast = createHlcClock(() => physical + 60_000);
    const a = slow.now();
    const b = slow.now();
    assert.ok(compareHlc(b, a) > 0);
    const remote = fast.now();
    slow.observe(remote);
    const c = slow.now();
    assert.ok(compareHlc(c, remote) > 0, 'an event after observing a remote one is later than it');
    physical = 500; // wall clock steps back
    assert.ok(compareHlc(slow.now(), c) > 0);
    assert.ok(compareHlc(slow.peek(), c) > 0);
  });
});
