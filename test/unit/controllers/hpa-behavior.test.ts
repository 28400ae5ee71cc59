import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  effectiveRules,
  emptyHistory,
  normalizeWithBehavior,
  normalizeWithoutBehavior,
  recordScale,
  scaleDownLimit,
  scaleUpLimit,
  type HpaHistory,
} from '../../../src/agent/controllers/hpa-behavior.ts';

const T = 1_000_000_000;
const S = 1000;

function history(recs: [number, number][] = [], ups: [number, number][] = [], downs: [number, number][] = []): HpaHistory {
  const timed = (xs: [number, number][]) => xs.map(([value, agoS]) => ({ value, at: T - agoS * S }));
  return { recommendations: timed(recs), scaleUps: timed(ups), scaleDowns: timed(downs) };
}

describe('hpa behavior', () => {
  it('without behavior: the highest recommendation of the last 5 minutes caps a scale-down', () => {
    const n = normalizeWithoutBehavior({ current: 5, desired: 2, min: 1, max: 10, now: T, history: history([[4, 200], [7, 301]]) });
    assert.equal(n.replicas, 4);
    assert.equal(n.ableToScale.reason, 'ScaleDownStabilized');
    // The 301 s old one is gone, the new one is kept.
    assert.deepEqual(n.recommendations.map((r) => r.value), [4, 2]);
  });

  it('without behavior: scale-ups are limited to max(2 x current, 4)', () => {
    const up = normalizeWithoutBehavior({ current: 3, desired: 20, min: 1, max: 50, now: T, history: emptyHistory() });
    assert.deepEqual([up.replicas, up.scalingLimited.status, up.scalingLimited.reason], [6, 'True', 'ScaleUpLimit']);
    const small = normalizeWithoutBehavior({ current: 1, desired: 20, min: 1, max: 50, now: T, history: emptyHistory() });
    assert.equal(small.replicas, 4);
    const capped = normalizeWithoutBehavior({ current: 3, desired: 20, min: 1, max: 5, now: T, history: emptyHistory() });
    assert.deepEqual([capped.replicas, capped.scalingLimited.reason], [5, 'TooManyReplicas']);
  });

  it('with behavior: a scale-up window holds the lowest recent recommendation', () => {
    const behavior = { scaleUp: { stabilizationWindowSeconds: 60 } };
    const n = normalizeWithBehavior({ current: 2, desired: 8, min: 1, max: 10, now: T, history: history([[3, 30], [9, 10], [1, 90]]), behavior });
    // Lowest within 60 s is 3; the 90 s old 1 has left the window.
    assert.equal(n.replicas, 3);
    assert.equal(n.ableToScale.reason, 'ScaleUpStabilized');
  });

  it('policy limits look back over their period, counting changes made in it', () => {
    const rules = effectiveRules({ scaleUp: { selectPolicy: 'Max', policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }] } }).scaleUp;
    // 6 now, 2 of them added 30 s ago: the period started at 4, so 4 + 50% = 6.
    assert.equal(scaleUpLimit(6, rules, history([], [[2, 30]]), T), 6);
    // Once that change is older than the period, from 6: 9.
    assert.equal(scaleUpLimit(6, rules, history([], [[2, 61]]), T), 9);
    const down = effectiveRules({ scaleDown: { selectPolicy: 'Max', policies: [{ type: 'Pods', value: 2, periodSeconds: 60 }] } }).scaleDown;
    assert.equal(scaleDownLimit(6, down, history([], [], [[1, 10]]), T), 5);
    assert.equal(scaleDownLimit(6, { ...down, selectPolicy: 'Disabled' }, emptyHistory(), T), 6);
  });

  it('recordScale keeps only the changes some policy still looks at', () => {
    const behavior = { scaleUp: { policies: [{ type: 'Pods', value: 4, periodSeconds: 30 }] }, scaleDown: { policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } };
    const h = recordScale(history([], [[1, 59], [1, 61]], [[2, 90]]), behavior, 3, 5, T);
    assert.deepEqual(h.scaleUps.map((e) => e.value), [1, 2]);
    assert.deepEqual(h.scaleDowns, []);
    assert.equal(recordScale(h, undefined, 3, 5, T), h, 'no behavior: nothing is kept');
  });

  it('fills what admission would have filled for rules stored without it', () => {
    const r = effectiveRules({});
    assert.equal(r.scaleDown.stabilizationWindowSeconds, 300);
    assert.deepEqual(r.scaleUp.policies.map((p) => `${p.type}:${p.value}/${p.periodSeconds}`), ['Pods:4/15', 'Percent:100/15']);
  });
});
