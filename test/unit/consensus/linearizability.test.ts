import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkLinearizable, type KvHistoryOp, type KvOp, type KvResult } from '../../support/linearizability.ts';
import { pick, seededRandom, type Random } from '../../support/seeded-random.ts';

let nextId = 0;
const put = (key: string, value: string, invokedAt: number, returnedAt?: number): KvHistoryOp => ({
  id: `op${++nextId}`,
  op: { type: 'put', key, value },
  invokedAt,
  returnedAt,
  result: returnedAt === undefined ? undefined : { type: 'put' },
});
const get = (key: string, value: string | undefined, invokedAt: number, returnedAt: number): KvHistoryOp => ({
  id: `op${++nextId}`,
  op: { type: 'get', key },
  invokedAt,
  returnedAt,
  result: { type: 'get', value },
});
const cas = (key: string, expected: string | undefined, value: string, swapped: boolean | undefined, invokedAt: number, returnedAt?: number): KvHistoryOp => ({
  id: `op${++nextId}`,
  op: { type: 'cas', key, expected, value },
  invokedAt,
  returnedAt,
  result: swapped === undefined ? undefined : { type: 'cas', swapped },
});

function assertLinearizable(h: KvHistoryOp[]): void {
  const r = checkLinearizable(h);
  assert.ok(r.ok, r.ok ? '' : r.message);
}
function assertNotLinearizable(h: KvHistoryOp[], key = 'x'): string {
  const r = checkLinearizable(h);
  assert.equal(r.ok, false, 'expected a violation');
  if (r.ok) return '';
  assert.equal(r.key, key);
  return r.message;
}

describe('linearizability checker', () => {
  it('accepts a sequential history and an empty one', () => {
    assertLinearizable([]);
    assertLinearizable([put('x', 'a', 0, 1), get('x', 'a', 2, 3), cas('x', 'a', 'b', true, 4, 5), get('x', 'b', 6, 7), cas('x', 'a', 'c', false, 8, 9)]);
    assertLinearizable([get('x', undefined, 0, 1), cas('x', undefined, 'a', true, 2, 3), get('x', 'a', 4, 5)]);
  });

  it('accepts concurrent ops that only one order explains', () => {
    // Both puts overlap the reads; the reads force put b, then put a.
    assertLinearizable([put('x', 'a', 0, 10), put('x', 'b', 0, 10), get('x', 'b', 1, 2), get('x', 'a', 3, 4)]);
    // A read that overlaps a write may see the old or the new value.
    assertLinearizable([put('x', 'a', 0, 1), put('x', 'b', 2, 6), get('x', 'a', 3, 4), get('x', 'b', 5, 7)]);
  });

  it('rejects a stale read', () => {
    const msg = assertNotLinearizable([put('x', 'a', 0, 1), put('x', 'b', 2, 3), get('x', 'a', 4, 5)]);
    assert.match(msg, /not linearizable/);
    assert.match(msg, /get\(x\)/);
  });

  it('rejects a read that goes back in time after a newer read', () => {
    // The put is concurrent with both reads, but once b is seen, a can not be.
    assertNotLinearizable([put('x', 'a', 0, 1), put('x', 'b', 2, 20), get('x', 'b', 3, 4), get('x', 'a', 5, 6)]);
  });

  it('rejects a lost write', () => {
    assertNotLinearizable([put('x', 'a', 0, 1), get('x', undefined, 2, 3)]);
    assertNotLinearizable([put('x', 'a', 0, 1), cas('x', 'a', 'b', true, 2, 3), get('x', 'a', 4, 5)]);
  });

  it('rejects two cas that both swapped from the same value', () => {
    assertNotLinearizable([put('x', 'a', 0, 1), cas('x', 'a', 'b', true, 2, 5), cas('x', 'a', 'c', true, 2, 5)]);
    // One of them failing is fine.
    assertLinearizable([put('x', 'a', 0, 1), cas('x', 'a', 'b', true, 2, 5), cas('x', 'a', 'c', false, 2, 5), get('x', 'b', 6, 7)]);
  });

  it('rejects a cas that reports a swap it could not have made, or a refusal it should not have', () => {
    assertNotLinearizable([put('x', 'a', 0, 1), cas('x', 'z', 'b', true, 2, 3)]);
    assertNotLinearizable([put('x', 'a', 0, 1), cas('x', 'a', 'b', false, 2, 3)]);
  });

  it('accepts a timed-out write that did take effect, even long after it was invoked', () => {
    assertLinearizable([put('x', 'a', 0, 1), put('x', 'b', 2), get('x', 'a', 10, 11), get('x', 'b', 50, 51)]);
    assertLinearizable([cas('x', undefined, 'a', undefined, 0), get('x', 'a', 5, 6)]);
  });

  it('accepts a timed-out write that did not take effect', () => {
    assertLinearizable([put('x', 'a', 0, 1), put('x', 'b', 2), get('x', 'a', 10, 11), get('x', 'a', 50, 51)]);
  });

  it('rejects a timed-out write that was seen and then unseen', () => {
    assertNotLinearizable([put('x', 'a', 0, 1), put('x', 'b', 2), get('x', 'b', 10, 11), get('x', 'a', 50, 51)]);
  });

  it('rejects a timed-out write seen before it was invoked', () => {
    assertNotLinearizable([get('x', 'b', 0, 1), put('x', 'b', 2)]);
  });

  it('checks each key on its own and names the bad one', () => {
    const ok = [put('x', 'a', 0, 1), get('x', 'a', 2, 3)];
    const bad = [put('y', 'a', 0, 1), get('y', undefined, 2, 3)];
    assertLinearizable(ok);
    assertNotLinearizable([...ok, ...bad], 'y');
  });

  it('refuses malformed histories, naming the field', () => {
    assert.throws(() => checkLinearizable([{ id: 'a', op: { type: 'get', key: 'x' }, invokedAt: 5, returnedAt: 4, result: { type: 'get', value: undefined } }]), /returnedAt/);
    assert.throws(() => checkLinearizable([{ id: 'a', op: { type: 'get', key: 'x' }, invokedAt: 0, returnedAt: 4 }]), /result is required/);
    assert.throws(() => checkLinearizable([{ id: 'a', op: { type: 'put', key: 'x', value: 'v' }, invokedAt: 0, returnedAt: 1, result: { type: 'get', value: 'v' } }]), /result\.type/);
  });

  it('agrees with a brute-force search on small random histories', () => {
    let linearizable = 0;
    let not = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const rnd = seededRandom(seed);
      const h = randomHistory(rnd, 2 + Math.floor(rnd() * 5));
      const expected = bruteForce(h);
      const r = checkLinearizable(h);
      assert.equal(r.ok, expected, `seed ${seed}: checker says ${r.ok}, brute force ${expected}\n${JSON.stringify(h)}`);
      if (expected) linearizable++;
      else not++;
    }
    // The generator makes both kinds, so the comparison means something.
    assert.ok(linearizable > 20 && not > 20, `linearizable ${linearizable}, not ${not}`);
  });

  it('stays fast on hundreds of concurrent ops per key (memoised), and finds one stale read among them', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const rnd = seededRandom(1000 + seed);
      const h = realHistory(rnd, 600, 2, 0.01);
      const r = checkLinearizable(h);
      assert.ok(r.ok, `seed ${1000 + seed}: ${r.ok ? '' : r.message}`);
      assert.equal(r.ops, h.filter((o) => o.op.type !== 'get' || o.returnedAt !== undefined).length);
      // Make one read return a value that two later completed puts had overwritten before it began.
      const puts = h.filter((o) => o.op.type === 'put' && o.returnedAt !== undefined);
      const stale = h.flatMap((read) => {
        if (read.result?.type !== 'get') return [];
        const older = puts.find((p) => p.op.key === read.op.key && puts.some((q) => q.op.key === p.op.key && q.invokedAt > p.returnedAt! && q.returnedAt! < read.invokedAt));
        return older && older.op.type === 'put' ? [{ read, value: older.op.value }] : [];
      });
      assert.ok(stale.length > 0, 'the generator made no read late enough to corrupt');
      const victim = pick(rnd, stale);
      victim.read.result = { type: 'get', value: victim.value };
      const bad = checkLinearizable(h);
      assert.equal(bad.ok, false, `seed ${1000 + seed}: stale read ${victim.read.id} not caught`);
      if (!bad.ok) {
        assert.equal(bad.reason, 'violation', bad.message);
        assert.equal(bad.key, victim.read.op.key);
      }
    }
  });

  it('gives up with reason "budget" when the search is too large', () => {
    const rnd = seededRandom(77);
    const h = realHistory(rnd, 300, 1, 0.2);
    // Corrupt the last read so the search has to exhaust every order of the many unknown writes.
    const reads = h.filter((o) => o.result?.type === 'get');
    reads.at(-1)!.result = { type: 'get', value: 'never-written' };
    const r = checkLinearizable(h, { maxStates: 2_000 });
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.reason, 'budget');
      assert.match(r.message, /gave up after 2000 states/);
    }
  });
});

/**
 * A history from a real (simulated) linearizable register: each op takes effect
 * at a random point inside its interval; some writes time out (unknown, and
 * they took effect or not at random).
 */
function realHistory(rnd: Random, count: number, keys: number, timeoutRate: number): KvHistoryOp[] {
  const state = new Map<string, string>();
  type Pending = { h: KvHistoryOp; at: number; effect: boolean };
  const pending: Pending[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) {
    t += rnd() * 2;
    const key = `k${Math.floor(rnd() * keys)}`;
    const x = rnd();
    const value = `v${i}`;
    const op: KvOp =
      x < 0.35 ? { type: 'put', key, value } : x < 0.7 ? { type: 'get', key } : { type: 'cas', key, expected: rnd() < 0.5 ? state.get(key) : `v${Math.floor(rnd() * i)}`, value };
    const dur = 1 + rnd() * 8;
    const at = t + rnd() * dur;
    const timedOut = op.type !== 'get' && rnd() < timeoutRate;
    const h: KvHistoryOp = { id: `op${i}`, client: `c${i % 8}`, op, invokedAt: t, returnedAt: timedOut ? undefined : t + dur };
    pending.push({ h, at, effect: !timedOut || rnd() < 0.5 });
  }
  pending.sort((a, b) => a.at - b.at);
  for (const p of pending) {
    const o = p.h.op;
    let result: KvResult;
    if (o.type === 'put') {
      if (p.effect) state.set(o.key, o.value);
      result = { type: 'put' };
    } else if (o.type === 'get') {
      result = { type: 'get', value: state.get(o.key) };
    } else {
      const swapped = state.get(o.key) === o.expected;
      if (swapped && p.effect) state.set(o.key, o.value);
      result = { type: 'cas', swapped };
    }
    if (p.h.returnedAt !== undefined) p.h.result = result;
  }
  return pending.map((p) => p.h).sort((a, b) => a.invokedAt - b.invokedAt);
}

/** Small random histories on one key with arbitrary results: some linearizable, some not. */
function randomHistory(rnd: Random, count: number): KvHistoryOp[] {
  const values = ['a', 'b', 'c'];
  const out: KvHistoryOp[] = [];
  for (let i = 0; i < count; i++) {
    const invokedAt = Math.floor(rnd() * 10);
    const unknown = rnd() < 0.15;
    const returnedAt = unknown ? undefined : invokedAt + Math.floor(rnd() * 6);
    const x = rnd();
    let op: KvOp;
    let result: KvResult;
    if (x < 0.35) {
      op = { type: 'put', key: 'x', value: pick(rnd, values) };
      result = { type: 'put' };
    } else if (x < 0.7) {
      op = { type: 'get', key: 'x' };
      result = { type: 'get', value: rnd() < 0.2 ? undefined : pick(rnd, values) };
    } else {
      op = { type: 'cas', key: 'x', expected: rnd() < 0.2 ? undefined : pick(rnd, values), value: pick(rnd, values) };
      result = { type: 'cas', swapped: rnd() < 0.5 };
    }
    out.push({ id: `op${i}`, op, invokedAt, returnedAt, result: unknown ? undefined : result });
  }
  return out;
}

/** Every order consistent with real time; unknown ops may also be left out. */
function bruteForce(h: KvHistoryOp[]): boolean {
  const n = h.length;
  const used = new Array<boolean>(n).fill(false);
  const ret = (o: KvHistoryOp) => o.returnedAt ?? Infinity;
  const search = (state: string | undefined, placed: number): boolean => {
    if (placed === n) return true;
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      // i may go next only if no unplaced op returned before i was invoked.
      let minimal = true;
      for (let j = 0; j < n; j++) if (!used[j] && j !== i && ret(h[j]) < h[i].invokedAt) minimal = false;
      if (!minimal) continue;
      const o = h[i];
      let next: string | undefined = state;
      let ok = true;
      if (o.op.type === 'put') next = o.op.value;
      else if (o.op.type === 'get') ok = o.result === undefined || (o.result.type === 'get' && o.result.value === state);
      else {
        const swaps = state === o.op.expected;
        ok = o.result === undefined || (o.result.type === 'cas' && o.result.swapped === swaps);
        if (swaps) next = o.op.value;
      }
      if (!ok) continue;
      used[i] = true;
      if (search(next, placed + 1)) return true;
      used[i] = false;
    }
    // An unknown op may never take effect: drop one and carry on.
    for (let i = 0; i < n; i++) {
      if (used[i] || h[i].returnedAt !== undefined) continue;
      used[i] = true;
      const r = search(state, placed + 1);
      used[i] = false;
      if (r) return true;
    }
    return false;
  };
  return search(undefined, 0);
}
