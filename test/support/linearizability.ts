// A linearizability checker for a key-value history (put / get / cas on string
// keys), after Wing & Gong with Lowe's memoisation (the algorithm Porcupine and
// Knossos use). Linearizability is P-compositional (Herlihy & Wing), so each key
// is checked on its own; within a key the search caches every (set of ops
// linearized so far, state) pair it has explored, so it never revisits one and
// stays fast for hundreds of ops per key.
//
// An op whose outcome is unknown (the client timed out) may or may not have
// taken effect, at any point after it was invoked: it is given a return time of
// +infinity and accepts any result. An unknown get can not affect anyone and is
// dropped up front.

export type KvOp =
  | { type: 'put'; key: string; value: string }
  | { type: 'get'; key: string }
  /** Sets `value` if the key holds `expected` (undefined: the key is absent). */
  | { type: 'cas'; key: string; expected: string | undefined; value: string };

export type KvResult =
  | { type: 'put' }
  /** undefined: the key was absent. */
  | { type: 'get'; value: string | undefined }
  | { type: 'cas'; swapped: boolean };

export interface KvHistoryOp {
  id: string;
  /** Who issued it (for messages only). */
  client?: string;
  op: KvOp;
  invokedAt: number;
  /** Absent: the outcome is unknown (timed out); then `result` must be absent too. */
  returnedAt?: number;
  result?: KvResult;
}

export interface CheckOptions {
  /**
   * Most (linearized set, state) pairs to explore per key before giving up.
   * Proving a history NOT linearizable explores every order, which grows
   * exponentially with the ops of unknown outcome pending at once.
   */
  maxStates?: number;
}

export type LinearizabilityResult =
  | { ok: true; keys: number; ops: number; explored: number }
  | {
      ok: false;
      /** 'violation': no order explains the history; 'budget': the search gave up (maxStates). */
      reason: 'violation' | 'budget';
      key: string;
      /** A longest order of this key's ops the search could linearize. */
      longestPrefix: string[];
      /** An op that had to come next (its return was reached) but could not. */
      blocking: string | undefined;
      explored: number;
      message: string;
    };

/** The state of one key: its value, or undefined when absent. */
type State = string | undefined;

interface Node {
  /** Index of the op in the key's array; -1 for the list head. */
  op: number;
  call: boolean;
  time: number;
  /** Call nodes: their return node. */
  match: Node | undefined;
  prev: Node | undefined;
  next: Node | undefined;
}

export function checkLinearizable(history: readonly KvHistoryOp[], opts: CheckOptions = {}): LinearizabilityResult {
  const maxStates = opts.maxStates ?? 1_000_000;
  const byKey = new Map<string, KvHistoryOp[]>();
  for (const [i, h] of history.entries()) {
    validate(h, i);
    // An unknown get has no effect and no observation: nothing to place.
    if (h.op.type === 'get' && h.returnedAt === undefined) continue;
    let list = byKey.get(h.op.key);
    if (!list) byKey.set(h.op.key, (list = []));
    list.push(h);
  }
  let explored = 0;
  let ops = 0;
  for (const key of [...byKey.keys()].sort()) {
    const list = byKey.get(key)!;
    ops += list.length;
    const r = checkKey(key, list, maxStates);
    explored += r.explored;
    if (!r.ok) return { ...r, explored };
  }
  return { ok: true, keys: byKey.size, ops, explored };
}

function validate(h: KvHistoryOp, i: number): void {
  const where = `history[${i}] (${h.id})`;
  if (!Number.isFinite(h.invokedAt)) throw new Error(`${where}.invokedAt must be a finite number`);
  if (h.returnedAt === undefined) {
    if (h.result !== undefined) throw new Error(`${where}.result must be absent when returnedAt is (unknown outcome)`);
    return;
  }
  if (!Number.isFinite(h.returnedAt)) throw new Error(`${where}.returnedAt must be a finite number`);
  if (h.returnedAt < h.invokedAt) throw new Error(`${where}.returnedAt ${h.returnedAt} is before invokedAt ${h.invokedAt}`);
  if (h.result === undefined) throw new Error(`${where}.result is required when returnedAt is set`);
  if (h.result.type !== h.op.type) throw new Error(`${where}.result.type ${h.result.type} does not match op.type ${h.op.type}`);
}

/** Applies `op` to `state`; undefined when `result` could not have come from it. */
function step(state: State, op: KvOp, result: KvResult | undefined): { state: State } | undefined {
  switch (op.type) {
    case 'put':
      return { state: op.value };
    case 'get':
      if (result !== undefined && result.type === 'get' && result.value !== state) return undefined;
      return { state };
    case 'cas': {
      const swaps = state === op.expected;
      if (result !== undefined && result.type === 'cas' && result.swapped !== swaps) return undefined;
      return { state: swaps ? op.value : state };
    }
  }
}

function checkKey(key: string, ops: KvHistoryOp[], maxStates: number): LinearizabilityResult {
  const n = ops.length;
  // The history as one list of call and return events in time order; a call
  // sorts before a return at the same time (touching ops count as concurrent).
  const events: Node[] = [];
  for (let i = 0; i < n; i++) {
    const ret: Node = { op: i, call: false, time: ops[i].returnedAt ?? Infinity, match: undefined, prev: undefined, next: undefined };
    const call: Node = { op: i, call: true, time: ops[i].invokedAt, match: ret, prev: undefined, next: undefined };
    events.push(call, ret);
  }
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));
  const head: Node = { op: -1, call: false, time: -Infinity, match: undefined, prev: undefined, next: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }

  const lift = (e: Node): void => {
    e.prev!.next = e.next;
    e.next!.prev = e.prev; // a call always has its return after it
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Node): void => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    e.next!.prev = e;
  };

  const words = Math.ceil(n / 32);
  const linearized = new Uint32Array(words);
  const cacheKey = (s: State): string => {
    let k = '';
    for (let w = 0; w < words; w++) k += String.fromCharCode(linearized[w] & 0xffff, linearized[w] >>> 16);
    // Separate markers keep "absent" apart from every string value, '' included.
    return s === undefined ? `${k}\u0000` : `${k}\u0001${s}`;
  };
  const seen = new Set<string>();
  const stack: { node: Node; state: State }[] = [];
  let state: State = undefined;
  let entry = head.next;
  let best: string[] = [];
  let blocking: string | undefined;

  while (head.next !== undefined) {
    if (entry === undefined) break; // unreachable: the list always ends with a return
    if (entry.call) {
      const o = ops[entry.op];
      const next = step(state, o.op, o.result);
      let advanced = false;
      if (next !== undefined) {
        const bit = 1 << (entry.op & 31);
        const w = entry.op >>> 5;
        linearized[w] |= bit;
        const k = cacheKey(next.state);
        if (!seen.has(k)) {
          seen.add(k);
          if (seen.size > maxStates) {
            const message = `linearizability search of key ${JSON.stringify(key)} gave up after ${maxStates} states (${ops.length} ops, ${ops.filter((o) => o.returnedAt === undefined).length} of unknown outcome)`;
            return { ok: false, reason: 'budget', key, longestPrefix: best, blocking, explored: seen.size, message };
          }
          stack.push({ node: entry, state });
          state = next.state;
          lift(entry);
          entry = head.next;
          advanced = true;
        } else {
          linearized[w] &= ~bit;
        }
      }
      if (!advanced) entry = entry.next;
    } else {
      // A return reached: its op must already be linearized. Backtrack.
      if (stack.length > best.length || blocking === undefined) {
        best = stack.map((s) => ops[s.node.op].id);
        blocking = ops[entry.op].id;
      }
      const top = stack.pop();
      if (top === undefined) {
        const message = describeFailure(key, ops, best, blocking);
        return { ok: false, reason: 'violation', key, longestPrefix: best, blocking, explored: seen.size, message };
      }
      state = top.state;
      linearized[top.node.op >>> 5] &= ~(1 << (top.node.op & 31));
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return { ok: true, keys: 1, ops: n, explored: seen.size };
}

export function describeOp(h: KvHistoryOp): string {
  const o = h.op;
  const show = (v: string | undefined) => (v === undefined ? '∅' : JSON.stringify(v));
  let call: string;
  if (o.type === 'put') call = `put(${o.key}, ${show(o.value)})`;
  else if (o.type === 'get') call = `get(${o.key})`;
  else call = `cas(${o.key}, ${show(o.expected)} -> ${show(o.value)})`;
  let res: string;
  if (h.result === undefined) res = '?';
  else if (h.result.type === 'get') res = show(h.result.value);
  else if (h.result.type === 'cas') res = h.result.swapped ? 'swapped' : 'not swapped';
  else res = 'ok';
  const who = h.client ? `${h.client} ` : '';
  const at = (t: number) => String(Number.isInteger(t) ? t : Number(t.toFixed(4)));
  return `${h.id} ${who}${call} = ${res} [${at(h.invokedAt)}, ${h.returnedAt === undefined ? '∞' : at(h.returnedAt)}]`;
}

function describeFailure(key: string, ops: KvHistoryOp[], best: string[], blocking: string | undefined): string {
  const byId = new Map(ops.map((o) => [o.id, o]));
  const sorted = [...ops].sort((a, b) => a.invokedAt - b.invokedAt);
  const limit = 60;
  const lines = [
    `history of key ${JSON.stringify(key)} is not linearizable (${ops.length} ops)`,
    `longest linearizable order (${best.length} ops): ${best.slice(-15).join(' ')}${best.length > 15 ? ' (last 15)' : ''}`,
    `no order can place next: ${blocking !== undefined ? describeOp(byId.get(blocking)!) : '?'}`,
    `ops by invocation${sorted.length > limit ? ` (first ${limit})` : ''}:`,
    ...sorted.slice(0, limit).map((o) => `  ${describeOp(o)}`),
  ];
  return lines.join('\n');
}
