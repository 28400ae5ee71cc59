// Scenarios the seeded simulation (test/sim/raft.sim.test.ts) found, replayed
// by hand so they stay fixed whatever the simulation's random choices become.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRaftCore } from '../../../src/consensus/raft-core.ts';
import type { Message, NodeId, RaftConfig, RaftCore, RaftStart } from '../../../src/consensus/raft-types.ts';

const E = 10;

/** Cores on a hand-driven network: messages move only when delivered; `drop` loses some. */
function createNet(ids: NodeId[], create: (config: RaftConfig, start: RaftStart) => RaftCore = createRaftCore) {
  const cores = new Map<NodeId, RaftCore>();
  for (const id of ids) {
    cores.set(id, create({ id, electionTicks: E, heartbeatTicks: 1, random: () => 0 }, { hardState: { term: 0, vote: '', commit: 0 }, entries: [], initialConf: { voters: ids, learners: [] } }));
  }
  let pending: Message[] = [];
  let drop: (m: Message) => boolean = () => false;
  const core = (id: NodeId): RaftCore => cores.get(id)!;
  const collect = (): void => {
    for (const c of cores.values()) {
      while (c.hasReady()) {
        pending.push(...c.ready().messages);
        c.advance();
      }
    }
  };
  const stabilize = (): void => {
    for (let round = 0; round < 50; round++) {
      collect();
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      for (const m of batch) if (!drop(m)) core(m.to).step(m);
    }
  };
  return {
    core,
    collect,
    stabilize,
    /** Removes the pending messages that match. */
    take(match: (m: Message) => boolean): Message[] {
      const out = pending.filter(match);
      pending = pending.filter((m) => !match(m));
      return out;
    },
    deliver(msgs: Message[]): void {
      for (const m of msgs) core(m.to).step(m);
      stabilize();
    },
    tickAll(): void {
      for (const c of cores.values()) c.tick();
      stabilize();
    },
    setDrop(f: (m: Message) => boolean): void {
      drop = f;
    },
    /** The lease promise: while a leader's lease holds, no leader of a later term exists. */
    assertLeaseSafe(when: string): void {
      for (const [id, c] of cores) {
        const st = c.status();
        if (!st.leaseValid) continue;
        for (const [other, o] of cores) {
          const so = o.status();
          assert.ok(!(so.role === 'leader' && so.term > st.term), `${when}: ${id} holds a lease in term ${st.term} while ${other} leads term ${so.term}`);
        }
      }
    },
  };
}

describe('raft regressions found by the simulation', () => {
  // Found with late (held-up) messages and leadership transfers: the leader
  // sent timeout-now, the transfer timed out, the leader took its lease back,
  // and then the delayed timeout-now arrived and started an election whose
  // votes bypass leader stickiness, so a second leader rose during the lease.
  // Fixed in raft-core.ts: once a timeout-now is sent the term has no lease
  // again, and a leader whose transfer ended without losing the term steps down.
  it('a timeout-now delivered after its transfer gave up does not elect a leader during the old one\'s lease', () => {
    const net = createNet(['a', 'b', 'c']);
    net.core('a').campaign();
    net.stabilize();
    net.tickAll();
    assert.equal(net.core('a').status().role, 'leader');
    assert.equal(net.core('a').status().leaseValid, true, 'a holds its lease before the transfer');

    net.core('a').transferLeadership('c');
    net.collect();
    const late = net.take((m) => m.type === 'timeout-now');
    assert.equal(late.length, 1, 'c was caught up, so a sent timeout-now at once');
    // The transfer runs out while the timeout-now is held up; everything else flows.
    for (let t = 0; t < 2 * E; t++) {
      net.tickAll();
      net.assertLeaseSafe(`tick ${t} before the late timeout-now`);
    }
    // It arrives at last, and c's election does not reach a.
    net.setDrop((m) => m.from === 'c' && m.to === 'a');
    net.deliver(late);
    net.assertLeaseSafe('just after the late timeout-now');
    for (let t = 0; t < 3 * E; t++) {
      net.tickAll();
      net.assertLeaseSafe(`tick ${t} after the late timeout-now`);
    }
    // The group still has a leader with a lease in the end.
    net.setDrop(() => false);
    for (let t = 0; t < 3 * E; t++) net.tickAll();
    const leaders = ['a', 'b', 'c'].filter((id) => net.core(id).status().role === 'leader');
    assert.equal(leaders.length, 1, `leaders: ${leaders.join(', ')}`);
    assert.equal(net.core(leaders[0]).status().leaseValid, true);
  });
});
