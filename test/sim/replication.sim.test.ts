// Seeded replication simulations. SIM_SEEDS=5000 for a long (nightly-style) run;
// SIM_SEED=<n> replays one seed. See docs/store.md.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runScenario } from './replication-scenario.ts';

const single = process.env.SIM_SEED;
const count = Number(process.env.SIM_SEEDS ?? 200);
const seeds = single !== undefined ? [Number(single)] : Array.from({ length: count }, (_, i) => i + 1);

describe('replication simulation', () => {
  it(`converges under loss, duplicates, reordering and partitions (${seeds.length} seeds)`, async (t) => {
    let writes = 0;
    let lost = 0;
    let duplicated = 0;
    let superseded = 0;
    let overwritten = 0;
    for (const seed of seeds) {
      try {
        const r = await runScenario(seed);
        writes += r.writes;
        lost += r.stats.lost;
        duplicated += r.stats.duplicated;
        superseded += r.superseded;
        overwritten += r.overwritten;
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        assert.fail(`seed ${seed} failed: ${msg}\nreplay: SIM_SEED=${seed} node --test test/sim/replication.sim.test.ts`);
      }
    }
    // The runs did exercise the faults they claim to.
    assert.ok(writes > seeds.length * 10, `only ${writes} writes`);
    assert.ok(lost > 0 && duplicated > 0, `lost ${lost}, duplicated ${duplicated}`);
    if (seeds.length >= 50) {
      // Over many seeds the conflicts the merge rules are about do occur.
      assert.ok(superseded > 0, 'no concurrent create of one name happened');
      assert.ok(overwritten > 0, 'no same-field conflict happened');
    }
    t.diagnostic(` ${seeds.length} seeds: ${writes} acknowledged writes, ${overwritten} lost a same-field conflict, ${superseded} creates superseded, ${lost} messages lost, ${duplicated} duplicated`);
  });
});
