import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, Pod } from '../../../src/agent/api/object-types.ts';
import { applyDefaults } from '../../../src/agent/api/admission/index.ts';
import { findByKey } from '../../../src/agent/api/resources.ts';
import type { EventRecorder } from '../../../src/agent/event-recorder.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createMetricsCache, type MetricsCache } from '../../../src/agent/metrics/metrics-cache.ts';
import { createHpaController, HPA_RESOURCE } from '../../../src/agent/controllers/hpa-controller.ts';
import type { HorizontalPodAutoscaler, HpaCondition } from '../../../src/agent/controllers/hpa-types.ts';
import type { Controller } from '../../../src/agent/controllers/controller.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { createFakeClock, type FakeClock } from '../../support/fake-clock.ts';

const DEPLOYMENTS = 'deployments.apps';
const T0 = Date.parse('2026-05-01T10:00:00Z');
const SYNC_MS = 15_000;
const MI = 2 ** 20;
const KEY = 'default/web';

interface Usage {
  cpuMilli?: number;
  memoryMi?: number;
}

interface Env {
  client: FakeObjectClient;
  clock: FakeClock;
  cache: MetricsCache;
  hpa: Controller;
  events: { type: string; reason: string; message: string }[];
  /** Per-pod usage reported in every sample from now on (pods without one report no sample). */
  usage: Map<string, Usage>;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function setup(): Env {
  const client = createFakeObjectClient();
  const clock = createFakeClock(T0);
  const cache = createMetricsCache({ now: clock.now });
  const events: Env['events'] = [];
  const recorder: EventRecorder = {
    async normal(_o, reason, message) {
      events.push({ type: 'Normal', reason, message });
    },
    async warning(_o, reason, message) {
      events.push({ type: 'Warning', reason, message });
    },
  };
  const hpa = createHpaController({ client, metrics: cache, logger: silentLogger(), events: recorder, clock: () => new Date(clock.now()) });
  return { client, clock, cache, hpa, events, usage: new Map() };
}

async function deployment(env: Env, replicas: number): Promise<void> {
  await env.client.create(DEPLOYMENTS, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', generation: 1 },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [] } } },
  });
}

const replicasOf = (env: Env) => (env.client.get(DEPLOYMENTS, 'default', 'web')?.spec as { replicas: number }).replicas;

function requests(cpu = '100m', memory = '100Mi'): Record<string, string> {
  const r: Record<string, string> = {};
  if (cpu) r.cpu = cpu;
  if (memory) r.memory = memory;
  return r;
}

/** A running, long-ready pod of the deployment. */
async function pod(env: Env, name: string, opts: { requests?: Record<string, string>; startedAgoMs?: number; ready?: boolean } = {}): Promise<void> {
  const started = env.clock.now() - (opts.startedAgoMs ?? 3_600_000);
  const p: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'web' }, uid: `${name}-uid` },
    spec: { nodeName: 'node-a', containers: [{ name: 'app', image: 'nginx', resources: { requests: opts.requests ?? requests() } }] },
    status: {
      phase: 'Running',
      startTime: iso(started),
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True', lastTransitionTime: iso(started + 1000) }],
    },
  };
  await env.client.create('pods', p);
}

/** Pods web-0 .. web-(n-1), each with this usage. */
async function pods(env: Env, n: number, usage: Usage, opts: Parameters<typeof pod>[2] = {}): Promise<void> {
  for (let i = 0; i < n; i++) {
    const name = `web-${i}`;
    if (!env.client.get('pods', 'default', name)) await pod(env, name, opts);
    env.usage.set(name, usage);
  }
}

/** The node's kubelet reports a sample for the pods with a usage, taken now. */
function report(env: Env): void {
  const podsNow = env.client.list<Pod>('pods', { namespace: 'default' }).items;
  env.cache.put({
    nodeName: 'node-a',
    timestamp: iso(env.clock.now()),
    windowSeconds: 10,
    usage: { cpuNanoCores: 0, memoryWorkingSetBytes: 0 },
    pods: podsNow
      .filter((p) => env.usage.has(p.metadata.name!))
      .map((p) => {
        const u = env.usage.get(p.metadata.name!)!;
        return {
          namespace: 'default',
          name: p.metadata.name!,
          uid: p.metadata.uid!,
          containers: [{ name: 'app', usage: { cpuNanoCores: (u.cpuMilli ?? 0) * 1e6, memoryWorkingSetBytes: (u.memoryMi ?? 0) * MI } }],
        };
      }),
  });
}

async function autoscaler(env: Env, spec: Partial<HorizontalPodAutoscaler['spec']> = {}, generation = 1): Promise<void> {
  const obj: HorizontalPodAutoscaler = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default', generation },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
      ...spec,
    },
  };
  // As the API server stores it.
  applyDefaults(findByKey(HPA_RESOURCE)!, obj as KubeObject);
  await env.client.create(HPA_RESOURCE, obj);
}

const getHpa = (env: Env) => env.client.get<HorizontalPodAutoscaler>(HPA_RESOURCE, 'default', 'web')!;
const condition = (env: Env, type: HpaCondition['type']) => getHpa(env).status?.conditions?.find((c) => c.type === type);
const deploymentUpdates = (env: Env) => env.client.writes.filter((w) => w.op === 'update' && w.resource === DEPLOYMENTS).length;

/** One sync: a fresh sample, then the HPA's pass. */
async function sync(env: Env): Promise<void> {
  report(env);
  await env.hpa.reconcile(KEY);
}

/** Moves to the next sync period and syncs. */
async function nextPeriod(env: Env, ms = SYNC_MS): Promise<void> {
  await env.clock.advance(ms);
  await sync(env);
}

describe('hpa controller', () => {
  it('scales up on CPU above target and reports it in status and an event', async () => {
    const env = setup();
    await deployment(env, 2);
    await pods(env, 2, { cpuMilli: 85 });
    await autoscaler(env, {}, 3);
    await sync(env);

    // 85m used of 100m requested = 85%; 85/50 of the 2 ready pods, rounded up.
    const want = Math.ceil((85 / 50) * 2);
    assert.equal(replicasOf(env), want);
    const s = getHpa(env).status!;
    assert.equal(s.currentReplicas, 2);
    assert.equal(s.desiredReplicas, want);
    assert.equal(s.observedGeneration, 3);
    assert.equal(s.lastScaleTime, iso(T0));
    assert.deepEqual(s.currentMetrics, [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 85, averageValue: '85m' } } }]);
    assert.deepEqual(
      s.conditions?.map((c) => [c.type, c.status, c.reason]),
      [
        ['AbleToScale', 'True', 'SucceededRescale'],
        ['ScalingActive', 'True', 'ValidMetricFound'],
        ['ScalingLimited', 'False', 'DesiredWithinRange'],
      ],
    );
    assert.match(condition(env, 'ScalingActive')!.message!, /cpu resource utilization \(percentage of request\)/);
    assert.deepEqual(env.events, [
      { type: 'Normal', reason: 'SuccessfulRescale', message: `New size: ${want}; reason: cpu resource utilization (percentage of request) above target` },
    ]);
  });

  it('scales up on memory utilization and on a memory average value', async () => {
    const env = setup();
    await deployment(env, 2);
    await pods(env, 2, { cpuMilli: 1, memoryMi: 90 });
    await autoscaler(env, { metrics: [{ type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 60 } } }] });
    await sync(env);
    const want = Math.ceil((90 / 60) * 2);
    assert.equal(replicasOf(env), want);
    const current = getHpa(env).status!.currentMetrics![0]!.resource!;
    assert.equal(current.name, 'memory');
    assert.equal(current.current.averageUtilization, 90);
    assert.equal(current.current.averageValue, String(90 * MI));
    assert.match(env.events[0]!.message, /memory resource utilization \(percentage of request\) above target$/);

    const avg = setup();
    await deployment(avg, 2);
    await pods(avg, 2, { memoryMi: 150 });
    await autoscaler(avg, { metrics: [{ type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '100Mi' } } }] });
    await sync(avg);
    const avgWant = Math.ceil((150 / 100) * 2);
    assert.equal(replicasOf(avg), avgWant);
    assert.deepEqual(getHpa(avg).status!.currentMetrics![0]!.resource!.current, { averageValue: String(150 * MI) });
    assert.equal(avg.events[0]!.message, `New size: ${avgWant}; reason: memory resource above target`);
  });

  it('changes nothing within the 10% tolerance', async () => {
    const env = setup();
    await deployment(env, 3);
    await pods(env, 3, { cpuMilli: 54 });
    await autoscaler(env);
    await sync(env);
    assert.equal(replicasOf(env), 3);
    assert.equal(deploymentUpdates(env), 0);
    const s = getHpa(env).status!;
    assert.equal(s.desiredReplicas, 3);
    assert.equal(s.currentMetrics![0]!.resource!.current.averageUtilization, 54);
    assert.equal(s.lastScaleTime, undefined);
    assert.equal(condition(env, 'AbleToScale')?.reason, 'ReadyForNewScale');
    assert.equal(condition(env, 'ScalingLimited')?.reason, 'DesiredWithinRange');
    assert.deepEqual(env.events, []);

    // Just outside the band it does scale.
    env.usage.forEach((_u, name) => env.usage.set(name, { cpuMilli: 56 }));
    await nextPeriod(env);
    assert.equal(replicasOf(env), Math.ceil((56 / 50) * 3));
  });

  it('scales down only once the 300 s stabilization window has passed', async () => {
    const env = setup();
    await deployment(env, 4);
    await pods(env, 4, { cpuMilli: 10 });
    await autoscaler(env);
    await sync(env);
    assert.equal(replicasOf(env), 4, 'the first look records the current size');
    assert.equal(condition(env, 'AbleToScale')?.reason, 'ScaleDownStabilized');
    assert.equal(getHpa(env).status!.desiredReplicas, 4);

    let elapsed = 0;
    while (elapsed + SYNC_MS <= 300_000) {
      await nextPeriod(env);
      elapsed += SYNC_MS;
      assert.equal(replicasOf(env), 4, `still 4 after ${elapsed / 1000} s`);
    }
    await nextPeriod(env);
    elapsed += SYNC_MS;
    assert.ok(elapsed > 300_000);
    // 10% of a 50% target: a fifth of 4 pods, rounded up.
    assert.equal(replicasOf(env), Math.ceil((10 / 50) * 4));
    assert.equal(env.events.at(-1)?.message, 'New size: 1; reason: All metrics below target');
  });

  it('a high recommendation within the window holds a later scale-down', async () => {
    const env = setup();
    await deployment(env, 2);
    await pods(env, 2, { cpuMilli: 100 });
    await autoscaler(env, { behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } });
    await sync(env);
    assert.equal(replicasOf(env), 4);
    await pods(env, 4, { cpuMilli: 5 });
    await nextPeriod(env);
    // The 4 of the first pass is within the 60 s window.
    assert.equal(replicasOf(env), 4);
    assert.equal(condition(env, 'AbleToScale')?.reason, 'ScaleDownStabilized');
    for (let t = SYNC_MS; t <= 60_000; t += SYNC_MS) await nextPeriod(env);
    assert.equal(replicasOf(env), 1);
  });

  it('limits the rate of scale-ups by the behavior policies', async () => {
    const env = setup();
    await deployment(env, 2);
    await pods(env, 2, { cpuMilli: 500 });
    await autoscaler(env, { behavior: { scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } } });
    await sync(env);
    assert.equal(replicasOf(env), 3, 'one pod per 60 s');
    assert.deepEqual(
      [condition(env, 'ScalingLimited')?.status, condition(env, 'ScalingLimited')?.reason],
      ['True', 'ScaleUpLimit'],
    );
    await pods(env, 3, { cpuMilli: 500 });
    for (let t = SYNC_MS; t < 60_000; t += SYNC_MS) {
      await nextPeriod(env);
      assert.equal(replicasOf(env), 3, `no second pod within the period (${t / 1000} s)`);
    }
    await nextPeriod(env);
    assert.equal(replicasOf(env), 4);
  });

  it('Percent and Pods policies: Max takes the larger step, Min the smaller', async () => {
    const policies = [
      { type: 'Pods', value: 1, periodSeconds: 15 },
      { type: 'Percent', value: 50, periodSeconds: 15 },
    ];
    for (const [selectPolicy, want] of [['Max', 6], ['Min', 5]] as const) {
      const env = setup();
      await deployment(env, 4);
      await pods(env, 4, { cpuMilli: 500 });
      await autoscaler(env, { maxReplicas: 20, behavior: { scaleUp: { stabilizationWindowSeconds: 0, selectPolicy, policies } } });
      await sync(env);
      // Max: 4 + 50% = 6 beats 4 + 1; Min: the other way round.
      assert.equal(replicasOf(env), want, selectPolicy);
    }
  });

  it('limits scale-downs by policy and Disabled forbids them', async () => {
    const env = setup();
    await deployment(env, 8);
    await pods(env, 8, { cpuMilli: 1 });
    await autoscaler(env, { behavior: { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }] } } });
    await sync(env);
    assert.equal(replicasOf(env), 4, 'half per minute');
    assert.equal(condition(env, 'ScalingLimited')?.reason, 'ScaleDownLimit');

    const off = setup();
    await deployment(off, 8);
    await pods(off, 8, { cpuMilli: 1 });
    await autoscaler(off, { behavior: { scaleDown: { selectPolicy: 'Disabled', stabilizationWindowSeconds: 0 } } });
    await sync(off);
    await nextPeriod(off);
    assert.equal(replicasOf(off), 8);
    assert.equal(deploymentUpdates(off), 0);
  });

  it('clamps to maxReplicas and minReplicas with ScalingLimited', async () => {
    const env = setup();
    await deployment(env, 2);
    await pods(env, 2, { cpuMilli: 200 });
    await autoscaler(env, { maxReplicas: 3 });
    await sync(env);
    assert.equal(replicasOf(env), 3);
    assert.deepEqual([condition(env, 'ScalingLimited')?.status, condition(env, 'ScalingLimited')?.reason], ['True', 'TooManyReplicas']);

    const low = setup();
    await deployment(low, 4);
    await pods(low, 4, { cpuMilli: 1 });
    await autoscaler(low, { minReplicas: 2, behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } });
    await sync(low);
    assert.equal(replicasOf(low), 2);
    assert.deepEqual([condition(low, 'ScalingLimited')?.status, condition(low, 'ScalingLimited')?.reason], ['True', 'TooFewReplicas']);

    // A target outside the range is brought into it without reading metrics.
    const over = setup();
    await deployment(over, 9);
    await autoscaler(over, { maxReplicas: 5 });
    await sync(over);
    assert.equal(replicasOf(over), 5);
    assert.equal(over.events[0]!.message, 'New size: 5; reason: Current number of replicas above Spec.MaxReplicas');
  });

  it('a pod without a request for the metric stops scaling with FailedGetResourceMetric', async () => {
    const env = setup();
    await deployment(env, 2);
    await pods(env, 1, { cpuMilli: 200 });
    await pod(env, 'web-1', { requests: requests('', '100Mi') });
    env.usage.set('web-1', { cpuMilli: 200 });
    await autoscaler(env);
    await sync(env);
    assert.equal(replicasOf(env), 2);
    const active = condition(env, 'ScalingActive')!;
    assert.equal(active.status, 'False');
    assert.equal(active.reason, 'FailedGetResourceMetric');
    assert.match(active.message!, /missing request for cpu in container app of Pod web-1/);
    assert.deepEqual(getHpa(env).status!.currentMetrics, [{ type: '' }]);
    assert.deepEqual(env.events.map((e) => [e.type, e.reason]), [
      ['Warning', 'FailedGetResourceMetric'],
      ['Warning', 'FailedComputeMetricsReplicas'],
    ]);
  });

  it('without any sample the metric fails; a missing target fails to get the scale', async () => {
    const env = setup();
    await deployment(env, 2);
    await pods(env, 2, { cpuMilli: 80 });
    env.usage.clear();
    await autoscaler(env);
    await sync(env);
    assert.match(condition(env, 'ScalingActive')!.message!, /unable to get metrics for resource cpu/);
    assert.equal(replicasOf(env), 2);

    const none = setup();
    await autoscaler(none);
    await sync(none);
    const able = condition(none, 'AbleToScale')!;
    assert.deepEqual([able.status, able.reason], ['False', 'FailedGetScale']);
    assert.match(able.message!, /deployments\.apps "web" not found/);
  });

  it('on a scale-down, pods without a sample count as using their request', async () => {
    const env = setup();
    await deployment(env, 4);
    await pods(env, 4, { cpuMilli: 5 });
    env.usage.delete('web-2');
    env.usage.delete('web-3');
    await autoscaler(env, { behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } });
    await sync(env);
    // Counting the two silent pods at 100% of their request turns 5% into 52%: no scale-down.
    assert.equal(replicasOf(env), 4);
    // The status still shows what was measured.
    assert.equal(getHpa(env).status!.currentMetrics![0]!.resource!.current.averageUtilization, 5);
  });

  it('on a scale-up, CPU of pods not yet ready is left out', async () => {
    const env = setup();
    await deployment(env, 3);
    await pods(env, 2, { cpuMilli: 100 });
    await pod(env, 'web-2', { startedAgoMs: 20_000, ready: false });
    env.usage.set('web-2', { cpuMilli: 900 });
    await autoscaler(env);
    await sync(env);
    // The starting pod's burst is ignored, then counted at 0% for the scale-up: 200m of 300m, 66% of a 50% target.
    assert.equal(getHpa(env).status!.currentMetrics![0]!.resource!.current.averageUtilization, 100);
    assert.equal(replicasOf(env), Math.ceil((Math.trunc((200 * 100) / 300) / 50) * 3));
  });

  it('evaluates each HPA once per sync period; a spec change is evaluated at once', async () => {
    const env = setup();
    await deployment(env, 2);
    await pods(env, 2, { cpuMilli: 50 });
    await autoscaler(env);
    await sync(env);
    const writes = env.client.writes.length;
    await env.clock.advance(1000);
    await sync(env);
    assert.equal(env.client.writes.length, writes, 'nothing new within the period');

    const h = getHpa(env);
    await env.client.update(HPA_RESOURCE, { ...h, metadata: { ...h.metadata, generation: 2 }, spec: { ...h.spec, minReplicas: 3 } });
    await env.hpa.reconcile(KEY);
    assert.equal(replicasOf(env), 3);
    assert.equal(getHpa(env).status!.observedGeneration, 2);
  });

  it('a new leader keeps nothing from an earlier term', async () => {
    const env = setup();
    await deployment(env, 2);
    await pods(env, 2, { cpuMilli: 100 });
    await autoscaler(env);
    await sync(env);
    assert.equal(replicasOf(env), 4);
    await pods(env, 4, { cpuMilli: 1 });
    env.hpa.onStart?.();
    await env.clock.advance(600_000);
    await sync(env);
    // Even long after the last scale, the fresh start holds the current size for a window.
    assert.equal(replicasOf(env), 4);
    assert.equal(condition(env, 'AbleToScale')?.reason, 'ScaleDownStabilized');
  });
});
