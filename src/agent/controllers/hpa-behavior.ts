// From the replica count the metrics ask for to the count the HPA sets, as
// Kubernetes' podautoscaler normalizes it. Pure: the history of recent
// recommendations and scale changes comes in and goes out.
//
// With spec.behavior (normalizeDesiredReplicasWithBehaviors):
// - stabilization: the highest recommendation of the scale-down window caps a
//   scale-down, the lowest of the scale-up window caps a scale-up;
// - rate limits: each policy allows Pods (a number) or Percent of the count at
//   the start of its period, counting the changes made within it; selectPolicy
//   Max takes the most permissive, Min the least, Disabled forbids the direction;
// - then min/max clamping.
// Without it (normalizeDesiredReplicas): a scale-down stabilization window
// only, and scale-ups limited to max(2 x current, 4).
import { defaultScaleDownRules, defaultScaleUpRules, DEFAULT_DOWNSCALE_STABILIZATION_SECONDS } from '../api/admission/defaults-hpa.ts';
import type { HpaBehavior, ScalingPolicy, ScalingRules } from './hpa-types.ts';

export interface Timed {
  value: number;
  /** ms since the epoch */
  at: number;
}

export interface HpaHistory {
  /** Unstabilized recommendations. */
  recommendations: Timed[];
  /** Replicas added by each scale-up / removed by each scale-down. */
  scaleUps: Timed[];
  scaleDowns: Timed[];
}

export interface FullRules {
  stabilizationWindowSeconds: number;
  selectPolicy: string;
  policies: ScalingPolicy[];
}

export interface Normalization {
  replicas: number;
  /** The AbleToScale condition (True) this pass sets. */
  ableToScale: { reason: string; message: string };
  scalingLimited: { status: 'True' | 'False'; reason: string; message: string };
  recommendations: Timed[];
}

export interface NormalizeArgs {
  current: number;
  desired: number;
  min: number;
  max: number;
  now: number;
  history: HpaHistory;
}

const SCALE_UP_LIMIT_FACTOR = 2;
const SCALE_UP_LIMIT_MINIMUM = 4;

const WITHIN_RANGE = { reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
const TOO_MANY = { reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' };
const TOO_FEW = { reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' };
const UP_LIMIT = { reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' };
const DOWN_LIMIT = { reason: 'ScaleDownLimit', message: 'the desired replica count is decreasing faster than the maximum scale rate' };
const READY = { reason: 'ReadyForNewScale', message: 'recommended size matches current size' };
const DOWN_STABILIZED = {
  reason: 'ScaleDownStabilized',
  message: 'recent recommendations were higher than current one, applying the highest recent recommendation',
};
const UP_STABILIZED = {
  reason: 'ScaleUpStabilized',
  message: 'recent recommendations were lower than current one, applying the lowest recent recommendation',
};

export function emptyHistory(): HpaHistory {
  return { recommendations: [], scaleUps: [], scaleDowns: [] };
}

function complete(rules: ScalingRules | undefined, defaults: FullRules): FullRules {
  return {
    stabilizationWindowSeconds: rules?.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds,
    selectPolicy: rules?.selectPolicy ?? defaults.selectPolicy,
    policies: rules?.policies?.length ? rules.policies : defaults.policies,
  };
}

/** The rules that apply, with what admission would have filled (for objects stored without it). */
export function effectiveRules(behavior: HpaBehavior): { scaleUp: FullRules; scaleDown: FullRules } {
  return { scaleUp: complete(behavior.scaleUp, defaultScaleUpRules()), scaleDown: complete(behavior.scaleDown, defaultScaleDownRules()) };
}

function limited(replicas: number, stabilized: number, c: { reason: string; message: string }) {
  return { replicas, scalingLimited: { status: replicas === stabilized ? ('False' as const) : ('True' as const), ...c } };
}

/** Normalization for an HPA without spec.behavior. */
export function normalizeWithoutBehavior(a: NormalizeArgs & { downscaleWindowMs?: number }): Normalization {
  const cutoff = a.now - (a.downscaleWindowMs ?? DEFAULT_DOWNSCALE_STABILIZATION_SECONDS * 1000);
  let stabilized = a.desired;
  const kept: Timed[] = [];
  for (const r of a.history.recommendations) {
    if (r.at < cutoff) continue;
    kept.push(r);
    stabilized = Math.max(stabilized, r.value);
  }
  kept.push({ value: a.desired, at: a.now });
  const ableToScale = stabilized !== a.desired ? DOWN_STABILIZED : READY;

  // Guards against a burst of bogus usage readings multiplying the workload at once.
  const scaleUpLimit = Math.max(SCALE_UP_LIMIT_FACTOR * a.current, SCALE_UP_LIMIT_MINIMUM);
  const upper = a.max > scaleUpLimit ? { n: scaleUpLimit, ...UP_LIMIT } : { n: a.max, ...TOO_MANY };
  let out;
  if (stabilized < a.min) out = limited(a.min, stabilized, TOO_FEW);
  else if (stabilized > upper.n) out = limited(upper.n, stabilized, upper);
  else out = limited(stabilized, stabilized, WITHIN_RANGE);
  return { ...out, ableToScale, recommendations: kept };
}

/** Replicas changed by the events within the last periodSeconds. */
function changedWithin(events: readonly Timed[], periodSeconds: number, now: number): number {
  const cutoff = now - periodSeconds * 1000;
  let n = 0;
  for (const e of events) if (e.at > cutoff) n += e.value;
  return n;
}

function periodStart(current: number, policy: ScalingPolicy, h: HpaHistory, now: number): number {
  return current - changedWithin(h.scaleUps, policy.periodSeconds, now) + changedWithin(h.scaleDowns, policy.periodSeconds, now);
}

export function scaleUpLimit(current: number, rules: FullRules, h: HpaHistory, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const pick = rules.selectPolicy === 'Min' ? Math.min : Math.max;
  let result = rules.selectPolicy === 'Min' ? Infinity : -Infinity;
  for (const p of rules.policies) {
    const start = periodStart(current, p, h, now);
    // Rounded up, or a small percentage of a small count would never add a pod.
    const proposed = p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    result = pick(result, proposed);
  }
  return Number.isFinite(result) ? result : current;
}

export function scaleDownLimit(current: number, rules: FullRules, h: HpaHistory, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  // For a scale-down the most permissive policy is the one giving the lowest count.
  const pick = rules.selectPolicy === 'Min' ? Math.max : Math.min;
  let result = rules.selectPolicy === 'Min' ? -Infinity : Infinity;
  for (const p of rules.policies) {
    const start = periodStart(current, p, h, now);
    const proposed = p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    result = pick(result, proposed);
  }
  return Number.isFinite(result) ? result : current;
}

/** Normalization for an HPA with spec.behavior. */
export function normalizeWithBehavior(a: NormalizeArgs & { behavior: HpaBehavior }): Normalization {
  const rules = effectiveRules(a.behavior);
  const upCutoff = a.now - rules.scaleUp.stabilizationWindowSeconds * 1000;
  const downCutoff = a.now - rules.scaleDown.stabilizationWindowSeconds * 1000;
  let up = a.desired;
  let down = a.desired;
  const kept: Timed[] = [];
  for (const r of a.history.recommendations) {
    if (r.at > upCutoff) up = Math.min(up, r.value);
    if (r.at > downCutoff) down = Math.max(down, r.value);
    if (r.at >= upCutoff || r.at >= downCutoff) kept.push(r);
  }
  kept.push({ value: a.desired, at: a.now });
  let stabilized = Math.max(a.current, up);
  stabilized = Math.min(stabilized, down);
  const ableToScale = stabilized === a.desired ? READY : a.desired >= a.current ? UP_STABILIZED : DOWN_STABILIZED;

  let out = limited(stabilized, stabilized, WITHIN_RANGE);
  if (stabilized > a.current) {
    // Never below the current count: the limit only stops further growth until old changes age out.
    const limit = Math.max(scaleUpLimit(a.current, rules.scaleUp, a.history, a.now), a.current);
    const upper = a.max > limit ? { n: limit, ...UP_LIMIT } : { n: a.max, ...TOO_MANY };
    if (stabilized > upper.n) out = limited(upper.n, stabilized, upper);
  } else if (stabilized < a.current) {
    const limit = Math.min(scaleDownLimit(a.current, rules.scaleDown, a.history, a.now), a.current);
    const lower = a.min < limit ? { n: limit, ...DOWN_LIMIT } : { n: a.min, ...TOO_FEW };
    if (stabilized < lower.n) out = limited(lower.n, stabilized, lower);
  }
  return { ...out, ableToScale, recommendations: kept };
}

function longestPeriodSeconds(rules: FullRules): number {
  return Math.max(0, ...rules.policies.map((p) => p.periodSeconds));
}

/** The history after a rescale from prev to next at now (only HPAs with behavior keep scale events). */
export function recordScale(h: HpaHistory, behavior: HpaBehavior | undefined, prev: number, next: number, now: number): HpaHistory {
  if (!behavior || prev === next) return h;
  const rules = effectiveRules(behavior);
  // An event matters while any policy of either direction still looks back at it.
  const cutoff = now - Math.max(longestPeriodSeconds(rules.scaleUp), longestPeriodSeconds(rules.scaleDown)) * 1000;
  const fresh = (events: Timed[]) => events.filter((e) => e.at >= cutoff);
  const scaleUps = fresh(h.scaleUps);
  const scaleDowns = fresh(h.scaleDowns);
  if (next > prev) scaleUps.push({ value: next - prev, at: now });
  else scaleDowns.push({ value: prev - next, at: now });
  return { ...h, scaleUps, scaleDowns };
}
