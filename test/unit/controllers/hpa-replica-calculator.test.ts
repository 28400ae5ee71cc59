import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import {
  calculateResourceReplicas,
  milliOf,
  podRequests,
  type PodMetric,
  type ReplicaCalculation,
} from '../../../src/agent/controllers/hpa-replica-calculator.ts';

const NOW = Date.parse('2026-05-01T10:00:00Z');
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

function pod(name: string, o: { phase?: string; ready?: 'True' | 'False'; startedAgo?: number; readySinceAgo?: number; cpu?: string; deleting?: boolean } = {}): Pod {
  const started = NOW - (o.startedAgo ?? HOUR);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(o.deleting ? { deletionTimestamp: iso(NOW) } : {}) },
    spec: { containers: [{ name: 'app', image: 'x', resources: { requests: { cpu: o.cpu ?? '100m', memory: '64Mi' } } }] },
    status: {
      phase: (o.phase ?? 'Running') as 'Running',
      startTime: iso(started),
      conditions: [{ type: 'Ready', status: o.ready ?? 'True', lastTransitionTime: iso(NOW - (o.readySinceAgo ?? HOUR - 1000)) }],
    },
  };
}

function metrics(values: Record<string, number>, takenAgo = 0): Map<string, PodMetric> {
  return new Map(Object.entries(values).map(([k, v]) => [k, { value: v, timestamp: NOW - takenAgo, windowMs: 10_000 }]));
}

function calc(c: Partial<ReplicaCalculation> & Pick<ReplicaCalculation, 'pods' | 'metrics'>) {
  return calculateResourceReplicas({
    currentReplicas: c.pods.length,
    resource: 'cpu',
    target: { type: 'Utilization', averageUtilization: 50 },
    tolerance: { scaleUp: 0.1, scaleDown: 0.1 },
    now: NOW,
    ...c,
  });
}

function replicas(r: ReturnType<typeof calc>): number {
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.replicas;
}

describe('hpa replica calculator', () => {
  it('utilization is the sum of usage over the sum of requests, truncated', () => {
    const r = calc({ pods: [pod('a'), pod('b', { cpu: '300m' })], metrics: metrics({ a: 100, b: 101 }) });
    assert.ok(r.ok);
    // 201m of 400m = 50.25% -> 50: exactly on target.
    assert.equal(r.utilization, 50);
    assert.equal(r.rawAverage, 100);
    assert.equal(r.replicas, 2);
  });

  it('uses the ready pods with samples for the new count', () => {
    const pods = [pod('a'), pod('b'), pod('c', { deleting: true }), pod('d', { phase: 'Failed' })];
    assert.equal(replicas(calc({ pods, currentReplicas: 4, metrics: metrics({ a: 150, b: 150, c: 900, d: 900 }) })), Math.ceil((150 / 50) * 2));
  });

  it('the tolerance band is 10% either way, and configurable per direction', () => {
    const pods = [pod('a'), pod('b')];
    assert.equal(replicas(calc({ pods, metrics: metrics({ a: 55, b: 55 }) })), 2);
    assert.equal(replicas(calc({ pods, metrics: metrics({ a: 45, b: 45 }) })), 2);
    assert.equal(replicas(calc({ pods, metrics: metrics({ a: 56, b: 56 }) })), 3);
    assert.equal(replicas(calc({ pods, metrics: metrics({ a: 56, b: 56 }), tolerance: { scaleUp: 0.2, scaleDown: 0.1 } })), 2);
  });

  it('AverageValue needs no requests and compares the average usage', () => {
    const pods = [pod('a'), pod('b')];
    const r = calc({ pods, metrics: metrics({ a: 300, b: 500 }), target: { type: 'AverageValue', averageMilli: 200 } });
    assert.ok(r.ok);
    assert.equal(r.rawAverage, 400);
    assert.equal(r.utilization, undefined);
    assert.equal(r.replicas, 4);
  });

  it('a missing request is an error naming the container and pod', () => {
    const p = pod('b');
    delete p.spec.containers[0]!.resources!.requests!.cpu;
    const r = calc({ pods: [pod('a'), p], metrics: metrics({ a: 50, b: 50 }) });
    assert.deepEqual(r, { ok: false, error: 'missing request for cpu in container app of Pod b' });
    // A sidecar counts as well.
    const s = pod('s');
    s.spec.initContainers = [{ name: 'proxy', image: 'x', restartPolicy: 'Always' }];
    assert.deepEqual(podRequests([s], 'cpu'), { error: 'missing request for cpu in container proxy of Pod s' });
  });

  it('no pods, or no samples of usable pods, is an error', () => {
    assert.equal(calc({ pods: [], metrics: metrics({}) }).ok, false);
    const r = calc({ pods: [pod('a', { phase: 'Pending' })], metrics: metrics({ a: 10 }) });
    assert.deepEqual(r, { ok: false, error: 'did not receive metrics for targeted pods (pods might be unready)' });
  });

  it('missing samples: 0% on a scale-up, the request on a scale-down', () => {
    const pods = [pod('a'), pod('b'), pod('c'), pod('d')];
    // Up: 200% on two pods -> with two silent ones at 0%: 100% -> 4 x 2.
    assert.equal(replicas(calc({ pods, metrics: metrics({ a: 200, b: 200 }) })), 8);
    // Down: 10% on two pods -> silent ones at 100% give 55%: the direction flips, so no change.
    assert.equal(replicas(calc({ pods, metrics: metrics({ a: 10, b: 10 }) })), 4);
    // Target above 100%: silent pods are assumed at the target, (10+10+200+200)/400 = 105% of 200%.
    assert.equal(replicas(calc({ pods, metrics: metrics({ a: 10, b: 10 }), target: { type: 'Utilization', averageUtilization: 200 } })), Math.ceil((105 / 200) * 4));
  });

  it('CPU of pods in their initialization period counts only once they are ready and sampled since', () => {
    const fresh = pod('n', { startedAgo: 60_000, readySinceAgo: 5_000 });
    // Ready 5 s ago, sample covering 10 s before now: part of it predates readiness.
    const r = calc({ pods: [pod('a'), fresh], metrics: metrics({ a: 100, n: 900 }) });
    assert.ok(r.ok);
    assert.equal(r.utilization, 100, 'the starting pod is left out of the measurement');
    assert.equal(r.replicas, Math.ceil((50 / 50) * 2));
    // Ready long enough: its sample counts.
    const settled = pod('n', { startedAgo: 60_000, readySinceAgo: 30_000 });
    const s = calc({ pods: [pod('a'), settled], metrics: metrics({ a: 100, n: 900 }) });
    assert.ok(s.ok);
    assert.equal(s.utilization, 500);
    // Memory ignores readiness.
    const m = calc({ pods: [pod('a'), fresh], metrics: metrics({ a: 100, n: 900 }), resource: 'memory', target: { type: 'AverageValue', averageMilli: 100 } });
    assert.ok(m.ok);
    assert.equal(m.rawAverage, 500);
  });

  it('after initialization, only a pod that never became ready is left out', () => {
    // Unready since shortly after start (within the 30 s delay): never ready.
    const never = pod('x', { ready: 'False', startedAgo: HOUR, readySinceAgo: HOUR - 10_000 });
    const r = calc({ pods: [pod('a'), never], metrics: metrics({ a: 100, x: 900 }) });
    assert.ok(r.ok);
    assert.equal(r.utilization, 100);
    // Became unready later (it was ready before): its sample counts.
    const lapsed = pod('x', { ready: 'False', startedAgo: HOUR, readySinceAgo: 60_000 });
    const l = calc({ pods: [pod('a'), lapsed], metrics: metrics({ a: 100, x: 900 }) });
    assert.ok(l.ok);
    assert.equal(l.utilization, 500);
  });

  it('milliOf rounds up as MilliValue does', () => {
    assert.equal(milliOf('250m'), 250);
    assert.equal(milliOf('1'), 1000);
    assert.equal(milliOf('1Mi'), 2 ** 20 * 1000);
    assert.equal(milliOf('1n'), 1);
    assert.equal(milliOf('0.1'), 100);
  });
});
