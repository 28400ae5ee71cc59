// Seeded simulations of the Raft core (see raft-cluster.ts). Every seed is a
// whole run with its own variant (3 or 5 voters, membership changes, how the
// group is founded, read-index or lease reads, slow disk, timing, fault rates). RAFT_SIM_SEEDS=<n>
// sets how many (scripts/sim-nightly runs 50000), RAFT_SIM_FIRST_SEED the
// first (default 1); SIM_SEED=<n> replays one, with a trace of its last
// SIM_TRACE (default 300) events in the failure message. Client op times in
// messages are in ticks, as in the trace.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRaftCore } from '../../src/consensus/raft-core.ts';
import type { RaftConfig, RaftCore, RaftStart } from '../../src/consensus/raft-types.ts';
import { RaftSimFailure, defaultSimOptions, runRaftSim, simOptionsForSeed, type RaftSimOptions, type RaftSimStats } from './raft-cluster.ts';

const single = process.env.SIM_SEED;
const count = Number(process.env.RAFT_SIM_SEEDS ?? 3000);
const firstSeed = Number(process.env.RAFT_SIM_FIRST_SEED ?? 1);
const seeds = single !== undefined ? [Number(single)] : Array.from({ length: count }, (_, i) => firstSeed + i);

function variant(o: RaftSimOptions): string {
  const disk = o.maxDiskDelayTicks > 0 ? `slow disk <= ${o.maxDiskDelayTicks.toFixed(1)} ticks` : 'instant disk';
  const late = o.lateRate > 0 ? `, ${o.lateRate} late by <= ${o.lateTicks.toFixed(0)} ticks` : '';
  return (
    `${o.voters} voters${o.membership ? ' + membership changes' : ''}${o.bootstrapInLog ? ' (founded in the log)' : ''}, ${o.readMode} reads, ${disk}, ` +
    `election ${o.electionTicks} / heartbeat ${o.heartbeatTicks} ticks, loss ${o.loss.toFixed(2)}, dup ${o.duplicate.toFixed(2)}, delay <= ${o.maxDelayTicks.toFixed(1)} ticks${late}` +
    `${o.partitions ? '' : ', no partitions'}${o.crashes ? '' : ', no crashes'}`
  );
}

describe('raft simulation', () => {
  it(`keeps Raft's safety properties, a linearizable KV and liveness under faults (${seeds.length} seeds)`, (t) => {
    const total: Partial<Record<keyof RaftSimStats, number>> = {};
    let maxLiveness = 0;
    const started = performance.now();
    for (const seed of seeds) {
      const opts = simOptionsForSeed(seed);
      if (single !== undefined) opts.traceLines = Number(process.env.SIM_TRACE ?? 300);
      let stats: RaftSimStats;
      try {
        stats = runRaftSim(opts).stats;
      } catch (err) {
        // A violated check explains itself; anything else (the core threw) needs its stack.
        const msg = err instanceof RaftSimFailure ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
        assert.fail(`seed ${seed} failed (${variant(opts)}):\n${msg}\nreplay: SIM_SEED=${seed} node --test test/sim/raft.sim.test.ts`);
      }
      for (const [k, v] of Object.entries(stats) as [keyof RaftSimStats, number][]) total[k] = (total[k] ?? 0) + v;
      maxLiveness = Math.max(maxLiveness, stats.livenessTicks);
    }
    const secs = (performance.now() - started) / 1000;
    const s = total as Record<keyof RaftSimStats, number>;
    t.diagnostic(
      ` ${seeds.length} seeds in ${secs.toFixed(1)} s (${(seeds.length / secs).toFixed(0)} seeds/s): ${s.sent} messages (${s.lost} lost, ${s.duplicated} duplicated, ${s.cut} cut), ` +
        `${s.partitions} partitions, ${s.crashes} crashes, ${s.snapshotsSent} snapshots sent, ${s.leaders} leaders, ${s.transfers} transfers, ` +
        `${s.membershipDone} membership runs completed, ${s.opsOk} ops ok + ${s.opsUnknown} unknown, ${s.leaseReads} lease / ${s.readIndexReads} read-index reads, ` +
        `final write committed at most ${maxLiveness} ticks after the last heal`,
    );
    assert.ok(s.sent > 0 && s.opsOk > 0, `nothing ran: ${s.sent} messages, ${s.opsOk} ops`);
    if (seeds.length >= 20) {
      // The runs did exercise the faults and paths they claim to.
      assert.ok(s.lost > 0 && s.duplicated > 0, `lost ${s.lost}, duplicated ${s.duplicated}`);
      assert.ok(s.crashes > 0 && s.partitions > 0, `crashes ${s.crashes}, partitions ${s.partitions}`);
      assert.ok(s.snapshotsSent > 0, 'no snapshot was ever sent');
      assert.ok(s.leaders > seeds.length, `only ${s.leaders} leaders in ${seeds.length} runs: leadership never changed`);
      assert.ok(s.transfers > 0, 'no leadership transfer');
      assert.ok(s.membershipDone > 0, 'no run added, promoted and removed a member');
      assert.ok(s.leaseReads > 0 && s.readIndexReads > 0, `lease reads ${s.leaseReads}, read-index reads ${s.readIndexReads}`);
      assert.ok(s.opsUnknown > 0, 'no client op ever timed out, so unknown outcomes went unchecked');
    }
  });
});

/** The first of `max` seeds whose run fails (with one of the `only` checks, when given). */
function findFailure(max: number, opts: (seed: number) => RaftSimOptions, only?: string[]): { seed: number; check: string; message: string } | undefined {
  for (let seed = 1; seed <= max; seed++) {
    try {
      runRaftSim(opts(seed));
    } catch (err) {
      if (!(err instanceof RaftSimFailure)) throw err;
      if (only && !only.includes(err.check)) continue;
      return { seed, check: err.check, message: err.message };
    }
  }
  return undefined;
}

/** The checks above could pass by never looking: each broken variant here must be caught. */
describe('raft simulation catches broken Raft', () => {
  it('stale reads (reading any node unchecked) fail the linearizability check', () => {
    const f = findFailure(50, (seed) => defaultSimOptions(seed, { readMode: 'unsafe-local' }));
    assert.ok(f, 'no stale read was caught in 50 seeds');
    assert.equal(f.check, 'linearizability', f.message);
    assert.match(f.message, /not linearizable/);
  });

  it('a core whose hard state never reaches the disk fails the persistence checks, and election safety on its own', () => {
    const amnesiac = (c: RaftConfig, s: RaftStart): RaftCore => {
      const core = createRaftCore(c, s);
      return {
        ...core,
        ready() {
          const rd = core.ready();
          delete rd.hardState;
          return rd;
        },
      };
    };
    const strict = findFailure(20, (seed) => defaultSimOptions(seed, { createCore: amnesiac }));
    assert.ok(strict, 'not caught in 20 seeds');
    assert.equal(strict.check, 'persist before send', strict.message);
    // Without them, a node that forgot its vote votes twice in one term.
    const endToEnd = findFailure(300, (seed) => defaultSimOptions(seed, { createCore: amnesiac, persistenceChecks: false }), ['election safety']);
    assert.ok(endToEnd, 'no election safety violation in 300 seeds without the persistence checks');
    assert.match(endToEnd.message, /term \d+ has two leaders/);
  });

  it('a driver that sends before its disk write is caught: at once by the persistence checks, later by the safety checks', () => {
    const strict = findFailure(20, (seed) => defaultSimOptions(seed, { unsafeSendBeforePersist: true, maxDiskDelayTicks: 3 }));
    assert.ok(strict, 'not caught in 20 seeds');
    assert.equal(strict.check, 'persist before send', strict.message);
    const endToEnd = findFailure(300, (seed) => defaultSimOptions(seed, { unsafeSendBeforePersist: true, maxDiskDelayTicks: 3, persistenceChecks: false }));
    assert.ok(endToEnd, 'acknowledged-but-lost entries went unnoticed in 300 seeds');
    assert.ok(['leader completeness', 'election safety', 'state machine safety', 'log matching', 'linearizability'].includes(endToEnd.check), endToEnd.message);
  });

  it('a leader whose clock runs slow (its lease outlives the followers\' patience) fails lease safety', () => {
    const slowLeader = (c: RaftConfig, s: RaftStart): RaftCore => {
      const core = createRaftCore(c, s);
      let ticks = 0;
      return {
        ...core,
        tick() {
          // While it leads, only every fourth tick reaches it: a clock running at a quarter speed.
          if (core.status().role !== 'leader' || ++ticks % 4 === 0) core.tick();
        },
      };
    };
    const f = findFailure(100, (seed) => defaultSimOptions(seed, { readMode: 'lease', createCore: slowLeader }));
    assert.ok(f, 'not caught in 100 seeds');
    assert.equal(f.check, 'lease safety', f.message);
  });
});
