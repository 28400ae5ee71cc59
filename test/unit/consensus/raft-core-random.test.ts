// Seeded random schedules against the Raft core: message loss, duplication
// and reordering, partitions, crashes and restarts, compaction, membership
// changes, transfers and reads. The network (raft-test-network.ts) checks
// election safety and state machine safety after every Ready; this file adds
// the lease and liveness after healing. SEED=n reruns one schedule.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Invalid } from '../../../src/agent/api/errors.ts';
import type { Message, NodeId } from '../../../src/consensus/raft-types.ts';
import { pick, seededRandom, type Random } from '../../support/seeded-random.ts';
import { createTestNet, snapshotData, type TestNet } from './raft-test-network.ts';

const E = 10;

/**
 * bounded: messages live at most one tick; delays: messages may be delayed
 * for many ticks. In both, all nodes tick together (the lease's assumption)
 * and the lease is checked. unbounded: delayed messages and nodes that tick
 * on their own; only safety is checked.
 */
type Mode = 'bounded' | 'delays' | 'unbounded';

function runSchedule(seed: number, steps: number, mode: Mode): void {
  const rnd: Random = seededRandom(seed);
  const ids = ['a', 'b', 'c', 'd', 'e'];
  const net: TestNet = createTestNet({ voters: ['a', 'b', 'c'], outsiders: ['d', 'e'], bootstrapInLog: seed % 2 === 0, electionTicks: E, heartbeatTicks: 2, maxEntriesPerMessage: 4, random: (id) => seededRandom(seed * 31 + id.charCodeAt(0)) });
  let proposed = 0;
  // Messages live at most one tick: the lease assumes a response arrives within a tick.
  let inFlight: Message[] = [];

  const deliverSome = (): void => {
    net.collect();
    inFlight.push(...net.take());
    const batch = inFlight;
    inFlight = [];
    for (const m of batch) {
      const r = rnd();
      if (r < 0.1) continue; // lost
      if (r < (mode === 'bounded' ? 0.25 : 0.4)) inFlight.push(m); // delayed
      else {
        net.deliver([m]);
        if (r > 0.97) net.deliver([m]); // duplicated
      }
    }
  };

  const checkLease = (): void => {
    for (const id of ids) {
      const st = net.core(id).status();
      if (!st.leaseValid) continue;
      for (const other of ids) {
        const o = net.core(other).status();
        if (other !== id && o.role === 'leader') assert.ok(o.term < st.term, `seed ${seed}: ${other} leads term ${o.term} while ${id} holds a lease in term ${st.term}`);
      }
    }
  };

  for (let step = 0; step < steps; step++) {
    const r = rnd();
    const leader = net.leaderOf();
    if (r < 0.3) {
      if (mode !== 'unbounded') {
        for (const n of net.nodes.values()) n.core.tick();
        if (mode === 'bounded') inFlight = []; // older than a tick: dropped
      } else {
        for (const n of net.nodes.values()) if (rnd() < 0.7) n.core.tick();
      }
    } else if (r < 0.55 && leader) {
      for (let i = 0, k = 1 + Math.floor(rnd() * 5); i < k; i++) if (net.core(leader).propose(`v${proposed}`).ok) proposed++;
    } else if (r < 0.6) {
      net.heal();
      if (rnd() < 0.5) net.isolate(pick(rnd, ids));
      else net.cut(pick(rnd, ids), pick(rnd, ids));
    } else if (r < 0.63) {
      net.heal();
    } else if (r < 0.65) {
      const victim = pick(rnd, ids);
      net.collect();
      inFlight = inFlight.filter((m) => m.from !== victim && m.to !== victim);
      net.restart(victim);
    } else if (r < 0.68) {
      const n = net.node(pick(rnd, ids));
      net.collect();
      if (n.appliedIndex > (n.disk.snapshot?.index ?? 0)) {
        n.core.compact(n.appliedIndex, snapshotData(n, n.appliedIndex));
        n.disk.snapshot = n.core.latestSnapshot?.();
        n.disk.entries = n.disk.entries.filter((e) => e.index > n.appliedIndex);
      }
    } else if (r < 0.71 && leader) {
      const node = pick(rnd, ids);
      const type = pick(rnd, ['add-learner', 'promote', 'remove'] as const);
      try {
        net.core(leader).proposeConfChange({ type, node });
      } catch (err) {
        if (!(err instanceof Invalid)) throw err;
      }
    } else if (r < 0.73 && leader) {
      net.core(leader).transferLeadership(pick(rnd, ids));
    } else if (r < 0.76) {
      net.core(pick(rnd, ids)).readIndex(`r${step}`);
    } else if (r < 0.78) {
      net.core(pick(rnd, ids)).campaign();
    } else {
      deliverSome();
    }
    net.collect();
    if (mode !== 'unbounded') checkLease();
  }

  // Heal everything: the members must agree on a leader and commit again.
  net.heal();
  let leader: NodeId | undefined;
  for (let i = 0; i < 20 * E; i++) {
    net.tickAll(1);
    leader = net.leaderOf();
    if (leader && net.core(leader).status().leaseValid && net.core(leader).propose('final').ok) break;
    leader = undefined;
  }
  assert.ok(leader, `seed ${seed}: no leader after healing`);
  net.tickAll(3 * E);
  const conf = net.core(leader).status().conf;
  const final = net.core(leader).status().commit;
  for (const id of [...conf.voters, ...conf.learners]) {
    assert.equal(net.node(id).appliedIndex >= final || net.core(id).status().commit >= final, true, `seed ${seed}: ${id} did not catch up to ${final}`);
    assert.equal(net.data(id).at(-1), 'final', `seed ${seed}: ${id} did not apply the final entry`);
  }
}

describe('raft core under random schedules', () => {
  const fixed = process.env.SEED ? [Number(process.env.SEED)] : undefined;
  const base = Number(process.env.SEED_BASE ?? Date.now() % 1e6);
  const count = Number(process.env.SEEDS ?? 25);
  const seeds = fixed ?? Array.from({ length: count }, (_, i) => base + i);
  for (const mode of ['bounded', 'delays', 'unbounded'] as const) {
    it(`${mode}: keeps election safety and state machine safety${mode !== 'unbounded' ? ' and the lease' : ''}, and recovers after healing`, () => {
      for (const seed of seeds) {
        try {
          runSchedule(seed, 1500, mode);
        } catch (err) {
          (err as Error).message = `seed ${seed} (SEED=${seed} reruns it): ${(err as Error).message}`;
          throw err;
        }
      }
    });
  }
});
