import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry, rfc3339, type Registry } from '../../../src/agent/api/registry.ts';
import type { KubeObject, Pod } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createControllerManager, defineController, type Controller, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import {
  createDaemonSetController,
  daemonSetHash,
  planRollingDeletions,
  type DaemonSet,
  type NodeState,
} from '../../../src/agent/controllers/daemonset-controller.ts';
import { daemonTolerations, pinToNode, placementOn, targetNodeOf } from '../../../src/agent/controllers/daemonset-placement.ts';
import { podTemplateHash } from '../../../src/agent/controllers/deployment-rollout.ts';
import type { SchedNode, Taint, Toleration } from '../../../src/agent/scheduler/scheduling-shapes.ts';

const T0 = Date.parse('2026-04-01T08:00:00Z');
const DS = 'daemonsets.apps';
const HASH = 'controller-revision-hash';

/** A node agent in miniature: binds each pod to the node its affinity names, reports it Running, ends terminating pods. */
interface FakeKubelet {
  controller: Controller;
  ready: (pod: Pod) => boolean;
}

function fakeKubelet(registry: Registry, clock: { now: number }): FakeKubelet {
  const state = { ready: (_pod: Pod) => true };
  const controller = defineController({
    name: 'fake-kubelet',
    watches: [{ resource: 'pods', toKeys: (e) => (e.type === 'DELETED' ? [] : [`${e.object.metadata.namespace}/${e.object.metadata.name}`]) }],
    async reconcile(key) {
      const [ns, name] = key.split('/') as [string, string];
      const pod = registry.get<Pod>('pods', ns, name);
      if (!pod) return;
      if (pod.metadata.deletionTimestamp) {
        await registry.delete('pods', ns, name, { gracePeriodSeconds: 0 });
        return;
      }
      if (!pod.spec.nodeName) {
        await registry.bind(ns, name, targetNodeOf(pod) ?? 'nowhere');
        return;
      }
      const ready = state.ready(pod);
      const cur = pod.status?.conditions?.find((c) => c.type === 'Ready');
      if (pod.status?.phase === 'Running' && (cur?.status === 'True') === ready) return;
      const conditions = (pod.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
      conditions.push({ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: rfc3339(new Date(clock.now)) });
      await registry.updateStatus<Pod>('pods', { ...pod, status: { ...pod.status, phase: 'Running', conditions } });
    },
  });
  return Object.assign(state, { controller });
}

interface Env {
  registry: Registry;
  clock: { now: number };
  mgr: ControllerManager;
  dsc: Controller;
  kubelet: FakeKubelet;
}

const managers: ControllerManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
});

/** `observe` registers watches before the controllers', so it sees every intermediate state in order. */
async function setup(observe?: (registry: Registry) => void): Promise<Env> {
  const clock = { now: T0 };
  const now = () => new Date(clock.now);
  const store = createMemoryStore();
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger(), clock: now });
  await registry.ensureDefaultNamespaces();
  observe?.(registry);
  const kubelet = fakeKubelet(registry, clock);
  const dsc = createDaemonSetController({ client: registry, logger: silentLogger(), clock: now });
  const mgr = createControllerManager({ client: registry, logger: silentLogger(), controllers: [dsc, kubelet.controller], baseDelayMs: 5, maxDelayMs: 50 });
  managers.push(mgr);
  await mgr.start();
  return { registry, clock, mgr, dsc, kubelet };
}

function node(name: string, opts: { labels?: Record<string, string>; taints?: Taint[]; unschedulable?: boolean } = {}): KubeObject {
  const spec: Record<string, unknown> = {};
  if (opts.taints) spec.taints = opts.taints;
  if (opts.unschedulable) spec.unschedulable = true;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, ...(opts.labels ? { labels: opts.labels } : {}) },
    spec,
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function daemonSet(name: string, spec: Partial<DaemonSet['spec']> = {}, podSpec: Record<string, unknown> = {}): DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'agent:v1' }], ...podSpec } },
      ...spec,
    },
  };
}

async function addNodes(env: Env, ...nodes: KubeObject[]): Promise<void> {
  for (const n of nodes) await env.registry.create('nodes', n);
}

const podsOf = (env: Env, app: string) => env.registry.list<Pod>('pods', { labelSelector: `app=${app}` }).items;
const live = (pods: Pod[]) => pods.filter((p) => !p.metadata.deletionTimestamp);
const isReady = (p: Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const nodesOf = (pods: Pod[]) => pods.map((p) => p.spec.nodeName ?? targetNodeOf(p)).sort();
const getDs = (env: Env, name: string) => env.registry.get<DaemonSet>(DS, 'default', name)!;
const imageOf = (p: Pod) => p.spec.containers[0]!.image;
const events = (env: Env, reason: string) => env.registry.list('events').items.filter((e) => e.reason === reason);

async function setImage(env: Env, name: string, image: string): Promise<void> {
  const cur = getDs(env, name);
  const template = structuredClone(cur.spec.template!);
  template.spec!.containers[0]!.image = image;
  await env.registry.update(DS, { ...cur, spec: { ...cur.spec, template } });
}

describe('daemonset controller', () => {
  it('runs exactly one owned, pinned pod per node and reports status', async () => {
    const env = await setup();
    await addNodes(env, node('n1'), node('n2'), node('n3'));
    const ds = await env.registry.create<DaemonSet>(DS, daemonSet('agent'));
    await env.mgr.idle();
    const pods = podsOf(env, 'agent');
    assert.deepEqual(nodesOf(pods), ['n1', 'n2', 'n3']);
    const hash = podTemplateHash(getDs(env, 'agent').spec.template);
    for (const p of pods) {
      assert.match(p.metadata.name!, /^agent-[a-z0-9]{5}$/);
      assert.deepEqual(p.metadata.ownerReferences, [
        { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: ds.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
      assert.equal(p.metadata.labels?.[HASH], hash);
      const terms = (p.spec.affinity as { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: unknown[] } } }).nodeAffinity
        .requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
      assert.deepEqual(terms, [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [p.spec.nodeName] }] }]);
      const tol = p.spec.tolerations as Toleration[];
      assert.ok(tol.some((t) => t.key === 'node.kubernetes.io/unschedulable' && t.effect === 'NoSchedule' && t.operator === 'Exists'));
      assert.ok(tol.some((t) => t.key === 'node.kubernetes.io/not-ready' && t.effect === 'NoExecute'));
    }
    assert.equal(events(env, 'SuccessfulCreate').length, 3);

    for (let i = 0; i < 3; i++) await env.dsc.reconcile('default/agent');
    env.mgr.resync();
    await env.mgr.idle();
    assert.equal(podsOf(env, 'agent').length, 3, 'repeated passes create nothing more');

    const st = getDs(env, 'agent').status!;
    assert.deepEqual(st, {
      currentNumberScheduled: 3,
      numberMisscheduled: 0,
      desiredNumberScheduled: 3,
      numberReady: 3,
      updatedNumberScheduled: 3,
      numberAvailable: 3,
      numberUnavailable: 0,
      observedGeneration: 1,
    });
  });

  it('reports unready pods as unavailable', async () => {
    const env = await setup();
    env.kubelet.ready = (p) => p.spec.nodeName !== 'n2';
    await addNodes(env, node('n1'), node('n2'));
    await env.registry.create(DS, daemonSet('half'));
    await env.mgr.idle();
    const st = getDs(env, 'half').status!;
    assert.deepEqual(
      [st.desiredNumberScheduled, st.currentNumberScheduled, st.numberReady, st.numberAvailable, st.numberUnavailable],
      [2, 2, 1, 1, 1],
    );
  });

  it('honours nodeSelector, taints and tolerations; cordoned nodes stay eligible', async () => {
    const env = await setup();
    await addNodes(
      env,
      node('edge-a', { labels: { role: 'edge' } }),
      node('edge-tainted', { labels: { role: 'edge' }, taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }),
      node('edge-noexec', { labels: { role: 'edge' }, taints: [{ key: 'gpu', effect: 'NoExecute' }] }),
      node('edge-cordoned', { labels: { role: 'edge' }, unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] }),
      node('edge-notready', { labels: { role: 'edge' }, taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }] }),
      node('core', { labels: { role: 'core' } }),
    );
    await env.registry.create(DS, daemonSet('sel', {}, { nodeSelector: { role: 'edge' } }));
    await env.registry.create(
      DS,
      daemonSet('tol', {}, { nodeSelector: { role: 'edge' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] }),
    );
    await env.registry.create(
      DS,
      daemonSet('aff', {}, {
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'role', operator: 'In', values: ['core'] }] }] } } },
      }),
    );
    await env.mgr.idle();
    assert.deepEqual(nodesOf(podsOf(env, 'sel')), ['edge-a', 'edge-cordoned', 'edge-notready']);
    assert.deepEqual(nodesOf(podsOf(env, 'tol')), ['edge-a', 'edge-cordoned', 'edge-notready', 'edge-tainted']);
    assert.deepEqual(nodesOf(podsOf(env, 'aff')), ['core']);
    const affPod = podsOf(env, 'aff')[0]!;
    const terms = (affPod.spec.affinity as { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: unknown[] } } }).nodeAffinity
      .requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
    assert.deepEqual(terms, [
      { matchExpressions: [{ key: 'role', operator: 'In', values: ['core'] }], matchFields: [{ key: 'metadata.name', operator: 'In', values: ['core'] }] },
    ]);
    assert.equal(getDs(env, 'sel').status!.desiredNumberScheduled, 3);

    // A NoSchedule taint added later leaves the running pod (misscheduled); a NoExecute one evicts it.
    const a = env.registry.get<KubeObject>('nodes', '', 'edge-a')!;
    await env.registry.update('nodes', { ...a, spec: { taints: [{ key: 'maint', effect: 'NoSchedule' }] } });
    await env.mgr.idle();
    assert.deepEqual(nodesOf(live(podsOf(env, 'sel'))), ['edge-a', 'edge-cordoned', 'edge-notready']);
    const st = getDs(env, 'sel').status!;
    assert.deepEqual([st.desiredNumberScheduled, st.currentNumberScheduled, st.numberMisscheduled], [2, 2, 1]);

    const a2 = env.registry.get<KubeObject>('nodes', '', 'edge-a')!;
    await env.registry.update('nodes', { ...a2, spec: { taints: [{ key: 'maint', effect: 'NoExecute' }] } });
    await env.mgr.idle();
    assert.deepEqual(nodesOf(podsOf(env, 'sel')), ['edge-cordoned', 'edge-notready']);
    assert.equal(getDs(env, 'sel').status!.numberMisscheduled, 0);
    assert.ok(events(env, 'SuccessfulDelete').length >= 1);
  });

  it('gives a node added later its pod, and takes it from a node removed or no longer selected', async () => {
    const env = await setup();
    await addNodes(env, node('n1', { labels: { pool: 'x' } }));
    await env.registry.create(DS, daemonSet('grow', {}, { nodeSelector: { pool: 'x' } }));
    await env.mgr.idle();
    assert.deepEqual(nodesOf(podsOf(env, 'grow')), ['n1']);

    await addNodes(env, node('n2', { labels: { pool: 'x' } }), node('n3', { labels: { pool: 'x' } }));
    await env.mgr.idle();
    assert.deepEqual(nodesOf(podsOf(env, 'grow')), ['n1', 'n2', 'n3']);
    assert.equal(getDs(env, 'grow').status!.desiredNumberScheduled, 3);

    await env.registry.delete('nodes', '', 'n2');
    await env.mgr.idle();
    assert.deepEqual(nodesOf(podsOf(env, 'grow')), ['n1', 'n3']);

    const n3 = env.registry.get<KubeObject>('nodes', '', 'n3')!;
    await env.registry.update('nodes', { ...n3, metadata: { ...n3.metadata, labels: { pool: 'y' } } });
    await env.mgr.idle();
    assert.deepEqual(nodesOf(podsOf(env, 'grow')), ['n1']);
    const st = getDs(env, 'grow').status!;
    assert.deepEqual([st.desiredNumberScheduled, st.currentNumberScheduled, st.numberAvailable], [1, 1, 1]);
  });

  it('deletes extra pods on a node, keeping the oldest', async () => {
    const env = await setup();
    await addNodes(env, node('n1'));
    const ds = await env.registry.create<DaemonSet>(DS, daemonSet('dup'));
    await env.mgr.idle();
    const [first] = podsOf(env, 'dup');
    assert.ok(first);
    env.clock.now += 5000;
    // A second pod of the set pinned to the same node (as a lagging earlier leader might leave).
    await env.registry.create('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'dup-extra',
        namespace: 'default',
        labels: { ...first.metadata.labels },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'dup', uid: ds.metadata.uid!, controller: true }],
      },
      spec: { ...structuredClone(first.spec), nodeName: undefined },
    });
    await env.mgr.idle();
    const pods = podsOf(env, 'dup');
    assert.deepEqual(pods.map((p) => p.metadata.name), [first.metadata.name]);
  });

  /** Rolls v1 -> v2 letting one waiting pod become Ready per round, measuring unavailable nodes at every pod change. */
  async function rollStepwise(nodeCount: number, maxUnavailable: number | string) {
    let measuring = false;
    let worst = 0;
    const env = await setup((registry) => {
      registry.watch('pods', {}, () => {
        if (!measuring) return;
        const pods = live(registry.list<Pod>('pods', { labelSelector: 'app=roll' }).items);
        const okNodes = new Set(pods.filter(isReady).map((p) => p.spec.nodeName));
        worst = Math.max(worst, nodeCount - okNodes.size);
      });
    });
    const allowed = new Set<string>();
    env.kubelet.ready = (p) => imageOf(p) === 'agent:v1' || allowed.has(p.metadata.name!);
    await addNodes(env, ...Array.from({ length: nodeCount }, (_, i) => node(`n${i + 1}`)));
    await env.registry.create(DS, daemonSet('roll', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable } } }));
    await env.mgr.idle();
    assert.equal(getDs(env, 'roll').status!.numberAvailable, nodeCount);
    const oldHash = daemonSetHash(getDs(env, 'roll'));

    measuring = true;
    await setImage(env, 'roll', 'agent:v2');
    let rounds = 0;
    for (; rounds < 50; rounds++) {
      await env.mgr.idle();
      const waiting = live(podsOf(env, 'roll')).filter((p) => !isReady(p));
      if (waiting.length === 0) break;
      allowed.add(waiting[0]!.metadata.name!);
      env.clock.now += 1000;
      env.mgr.resync();
    }
    await env.mgr.idle();
    measuring = false;
    return { env, worst, rounds, oldHash };
  }

  for (const [nodes, maxUnavailable, bound] of [
    [4, 1, 1],
    [5, 2, 2],
    [5, '40%', 2],
    [3, '10%', 1],
  ] as const) {
    it(`rolls a template change over ${nodes} nodes with maxUnavailable ${maxUnavailable} (<= ${bound} unavailable)`, async () => {
      const { env, worst, rounds, oldHash } = await rollStepwise(nodes, maxUnavailable);
      assert.ok(rounds < 50, `took ${rounds} rounds`);
      assert.equal(worst, bound, `at most (and, moving, exactly) ${bound} nodes unavailable at once`);
      const pods = podsOf(env, 'roll');
      const newHash = daemonSetHash(getDs(env, 'roll'));
      assert.notEqual(newHash, oldHash);
      assert.equal(pods.length, nodes);
      assert.ok(pods.every((p) => imageOf(p) === 'agent:v2' && p.metadata.labels?.[HASH] === newHash && isReady(p)));
      assert.equal(new Set(nodesOf(pods)).size, nodes);
      const st = getDs(env, 'roll').status!;
      assert.deepEqual([st.updatedNumberScheduled, st.numberAvailable, st.numberUnavailable, st.observedGeneration], [nodes, nodes, 0, 2]);
    });
  }

  it('OnDelete replaces only the pods the user deletes', async () => {
    const env = await setup();
    await addNodes(env, node('n1'), node('n2'));
    await env.registry.create(DS, daemonSet('od', { updateStrategy: { type: 'OnDelete' } }));
    await env.mgr.idle();
    await setImage(env, 'od', 'agent:v2');
    await env.mgr.idle();
    assert.deepEqual(podsOf(env, 'od').map(imageOf), ['agent:v1', 'agent:v1']);
    assert.equal(getDs(env, 'od').status!.updatedNumberScheduled, 0);

    const victim = podsOf(env, 'od').find((p) => p.spec.nodeName === 'n1')!;
    await env.registry.delete('pods', 'default', victim.metadata.name!);
    await env.mgr.idle();
    const byNode = Object.fromEntries(podsOf(env, 'od').map((p) => [p.spec.nodeName, imageOf(p)]));
    assert.deepEqual(byNode, { n1: 'agent:v2', n2: 'agent:v1' });
    assert.equal(getDs(env, 'od').status!.updatedNumberScheduled, 1);
  });
});

describe('daemonset placement (pure)', () => {
  const n = (taints: Taint[] = [], labels: Record<string, string> = {}): SchedNode => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'x', labels }, spec: { taints } });
  const spec = { containers: [] };

  it('keeps own tolerations and adds the automatic ones once', () => {
    const own = { key: 'node.kubernetes.io/unschedulable', operator: 'Equal', value: 'v', effect: 'NoSchedule' };
    const tol = daemonTolerations({ containers: [], tolerations: [own, { key: 'k', operator: 'Exists' }] });
    assert.equal(tol.filter((t) => t.key === 'node.kubernetes.io/unschedulable').length, 1);
    assert.ok(tol.some((t) => t.key === 'k'));
    assert.equal(tol.length, 7);
    assert.ok(daemonTolerations({ containers: [], hostNetwork: true }).some((t) => t.key === 'node.kubernetes.io/network-unavailable'));
  });

  it('separates shouldRun from shouldContinueRunning by taint effect', () => {
    const tol = daemonTolerations(spec);
    assert.deepEqual(placementOn(spec, tol, n([{ key: 'a', effect: 'NoSchedule' }])), { shouldRun: false, shouldContinueRunning: true });
    assert.deepEqual(placementOn(spec, tol, n([{ key: 'a', effect: 'NoExecute' }])), { shouldRun: false, shouldContinueRunning: false });
    assert.deepEqual(placementOn(spec, tol, n([{ key: 'a', effect: 'PreferNoSchedule' }])), { shouldRun: true, shouldContinueRunning: true });
    assert.deepEqual(placementOn({ containers: [], nodeSelector: { z: '1' } }, tol, n([], { z: '2' })), { shouldRun: false, shouldContinueRunning: false });
  });

  it('pins an affinity to a node, replacing an earlier pin', () => {
    const pinned = pinToNode(pinToNode(undefined, 'a'), 'b');
    assert.deepEqual(pinned.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms, [
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['b'] }] },
    ]);
  });

  it('plans rolling deletions within maxUnavailable, unavailable old pods at once', () => {
    const pod = (name: string, hash: string, ok: boolean): Pod => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, uid: name, labels: { [HASH]: hash } },
      spec: { containers: [], nodeName: name },
      status: { conditions: [{ type: 'Ready', status: ok ? 'True' : 'False' }] },
    });
    const run = { shouldRun: true, shouldContinueRunning: true };
    const nodes: NodeState[] = [
      { name: 'a', placement: run, pods: [pod('a', 'old', true)] },
      { name: 'b', placement: run, pods: [pod('b', 'old', false)] },
      { name: 'c', placement: run, pods: [pod('c', 'old', true)] },
      { name: 'd', placement: run, pods: [pod('d', 'new', false)] },
    ];
    const avail = (p: Pod) => isReady(p);
    assert.deepEqual(planRollingDeletions(nodes, 'new', 1, avail).map((p) => p.metadata.name), ['b']);
    assert.deepEqual(planRollingDeletions(nodes, 'new', 2, avail).map((p) => p.metadata.name), ['b', 'a']);
    assert.deepEqual(planRollingDeletions(nodes, 'new', 3, avail).map((p) => p.metadata.name), ['b', 'a', 'c']);
    // A node with no live pod counts as unavailable.
    const gone: NodeState[] = [...nodes.slice(0, 1), { name: 'e', placement: run, pods: [] }];
    assert.deepEqual(planRollingDeletions(gone, 'new', 1, avail), []);
  });
});
