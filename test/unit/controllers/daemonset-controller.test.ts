import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry, type Registry } from '../../../src/agent/api/registry.ts';
import type { KubeObject, Pod } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { fakeKubelet, type FakeKubelet } from './fake-pod-kubelet.ts';
import { createControllerManager, type Controller, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import { createGarbageCollector } from '../../../src/agent/controllers/garbage-collector.ts';
import {
  createDaemonSetController,
  daemonPodFor,
  daemonSetHash,
  planManage,
  planRollingDeletions,
  type DaemonSet,
  type NodeState,
} from '../../../src/agent/controllers/daemonset-controller.ts';
import { daemonRevisionsToPrune, daemonSetRevision, revisionHash as revisionHashOf } from '../../../src/agent/controllers/daemonset-history.ts';
import { daemonTolerations, pinToNode, placementOn, targetNodeOf } from '../../../src/agent/controllers/daemonset-placement.ts';
import { allowsSurge, daemonMaxSurge, planSurge, surgeExcess } from '../../../src/agent/controllers/daemonset-surge.ts';
import { templatePatchData, type ControllerRevision } from '../../../src/agent/controllers/controller-revisions.ts';
import { podTemplateHash } from '../../../src/agent/controllers/deployment-rollout.ts';
import { applyPatch, STRATEGIC_MERGE_PATCH } from '../../../src/agent/api/patch/index.ts';
import { schedulePod } from '../../../src/agent/scheduler/schedule-pod.ts';
import type { SchedNode, Taint, Toleration } from '../../../src/agent/scheduler/scheduling-shapes.ts';

const T0 = Date.parse('2026-04-01T08:00:00Z');
const DS = 'daemonsets.apps';
const CR = 'controllerrevisions.apps';
const HASH = 'controller-revision-hash';

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

const GC_GRACE_MS = 5000;

/**
 * `observe` registers watches before the controllers', so it sees every intermediate state in order;
 * `withGc` runs the garbage collector too (it finishes deletions no kubelet will).
 */
async function setup(observe?: (registry: Registry) => void, withGc = false): Promise<Env> {
  const clock = { now: T0 };
  const now = () => new Date(clock.now);
  const store = createMemoryStore();
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger(), clock: now });
  await registry.ensureDefaultNamespaces();
  observe?.(registry);
  const kubelet = fakeKubelet(registry, clock, (pod) => targetNodeOf(pod) ?? 'nowhere');
  const dsc = createDaemonSetController({ client: registry, logger: silentLogger(), clock: now });
  const controllers = [dsc, kubelet.controller];
  if (withGc) controllers.push(createGarbageCollector({ client: registry, logger: silentLogger(), clock: now, orphanGraceMs: GC_GRACE_MS }));
  const mgr = createControllerManager({ client: registry, logger: silentLogger(), controllers, baseDelayMs: 5, maxDelayMs: 50 });
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

/** kubectl's DaemonSetStatusViewer: done once the spec is observed and every desired pod is updated and available. */
function rolloutComplete(ds: DaemonSet): boolean {
  const s = ds.status;
  if (!s || (ds.metadata.generation ?? 0) > (s.observedGeneration ?? 0)) return false;
  return s.updatedNumberScheduled >= s.desiredNumberScheduled && s.numberAvailable >= s.desiredNumberScheduled;
}

/** What kubectl rollout history lists: revisions the set's selector matches that the set controls, by number. */
function rolloutHistory(env: Env, name: string): ControllerRevision[] {
  const ds = getDs(env, name);
  const selector = Object.entries(ds.spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  return env.registry
    .list<ControllerRevision>(CR, { namespace: 'default', labelSelector: selector })
    .items.filter((r) => r.metadata.ownerReferences?.some((o) => o.controller && o.uid === ds.metadata.uid))
    .sort((a, b) => a.revision - b.revision);
}

/** kubectl rollout undo: the revision's data as a strategic merge patch to the set. */
async function undoTo(env: Env, name: string, rev: ControllerRevision): Promise<void> {
  const patched = applyPatch(STRATEGIC_MERGE_PATCH, getDs(env, name), JSON.stringify(rev.data));
  await env.registry.update(DS, patched);
  await env.mgr.idle();
}

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

  /**
   * Rolls v1 -> v2 letting one waiting pod become Ready per round, measuring at
   * every pod change the nodes without a Ready pod and the nodes with two pods.
   */
  async function rollStepwise(nodeCount: number, rollingUpdate: { maxUnavailable?: number | string; maxSurge?: number | string }) {
    let measuring = false;
    let worst = 0;
    let worstSurge = 0;
    const env = await setup((registry) => {
      registry.watch('pods', {}, () => {
        if (!measuring) return;
        const pods = live(registry.list<Pod>('pods', { labelSelector: 'app=roll' }).items);
        const okNodes = new Set(pods.filter(isReady).map((p) => p.spec.nodeName));
        worst = Math.max(worst, nodeCount - okNodes.size);
        const perNode = new Map<string, number>();
        for (const p of pods) perNode.set(nodesOf([p])[0]!, (perNode.get(nodesOf([p])[0]!) ?? 0) + 1);
        worstSurge = Math.max(worstSurge, [...perNode.values()].filter((n) => n > 1).length);
      });
    });
    const allowed = new Set<string>();
    env.kubelet.ready = (p) => imageOf(p) === 'agent:v1' || allowed.has(p.metadata.name!);
    await addNodes(env, ...Array.from({ length: nodeCount }, (_, i) => node(`n${i + 1}`)));
    await env.registry.create(DS, daemonSet('roll', { updateStrategy: { type: 'RollingUpdate', rollingUpdate } }));
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
    return { env, worst, worstSurge, rounds, oldHash };
  }

  for (const [nodes, maxUnavailable, bound] of [
    [4, 1, 1],
    [5, 2, 2],
    [5, '40%', 2],
    [3, '10%', 1],
  ] as const) {
    it(`rolls a template change over ${nodes} nodes with maxUnavailable ${maxUnavailable} (<= ${bound} unavailable)`, async () => {
      const { env, worst, worstSurge, rounds, oldHash } = await rollStepwise(nodes, { maxUnavailable });
      assert.ok(rounds < 50, `took ${rounds} rounds`);
      assert.equal(worst, bound, `at most (and, moving, exactly) ${bound} nodes unavailable at once`);
      assert.equal(worstSurge, 0, 'never two pods on a node');
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

  for (const [nodes, maxSurge, bound] of [
    [3, 1, 1],
    [4, 2, 2],
    [4, '50%', 2],
    [3, '10%', 1],
  ] as const) {
    it(`surges a template change over ${nodes} nodes with maxSurge ${maxSurge}: new pod first, no node ever without a Ready pod`, async () => {
      const { env, worst, worstSurge, rounds, oldHash } = await rollStepwise(nodes, { maxUnavailable: 0, maxSurge });
      assert.ok(rounds < 50, `took ${rounds} rounds`);
      assert.equal(worst, 0, 'every node kept a Ready pod throughout');
      assert.equal(worstSurge, bound, `at most (and, moving, exactly) ${bound} nodes with two pods at once`);
      const pods = podsOf(env, 'roll');
      const newHash = daemonSetHash(getDs(env, 'roll'));
      assert.notEqual(newHash, oldHash);
      assert.deepEqual(nodesOf(pods), Array.from({ length: nodes }, (_, i) => `n${i + 1}`));
      assert.ok(pods.every((p) => imageOf(p) === 'agent:v2' && p.metadata.labels?.[HASH] === newHash && isReady(p)));
      assert.ok(rolloutComplete(getDs(env, 'roll')));
    });
  }

  it('with maxSurge, deletes the old pod only once the new one has been Ready for minReadySeconds', async () => {
    const env = await setup();
    await addNodes(env, node('n1'));
    const strategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } };
    await env.registry.create(DS, daemonSet('slow', { minReadySeconds: 30, updateStrategy: strategy }));
    await env.mgr.idle();
    env.clock.now += 60_000;
    env.mgr.resync();
    await env.mgr.idle();
    assert.ok(rolloutComplete(getDs(env, 'slow')));

    await setImage(env, 'slow', 'agent:v2');
    await env.mgr.idle();
    const both = live(podsOf(env, 'slow'));
    assert.deepEqual(both.map(imageOf).sort(), ['agent:v1', 'agent:v2'], 'the new pod starts beside the old one');
    assert.ok(both.every(isReady));
    env.clock.now += 10_000;
    env.mgr.resync();
    await env.mgr.idle();
    assert.equal(live(podsOf(env, 'slow')).length, 2, 'Ready, but not yet for minReadySeconds');
    assert.equal(rolloutComplete(getDs(env, 'slow')), false);
    assert.equal(getDs(env, 'slow').status!.updatedNumberScheduled, 0, 'the oldest pod of the node counts, as in kube');

    env.clock.now += 25_000;
    env.mgr.resync();
    await env.mgr.idle();
    assert.deepEqual(podsOf(env, 'slow').map(imageOf), ['agent:v2']);
    const st = getDs(env, 'slow').status!;
    assert.deepEqual([st.desiredNumberScheduled, st.updatedNumberScheduled, st.numberAvailable], [1, 1, 1]);
    assert.ok(rolloutComplete(getDs(env, 'slow')));
  });

  it('keeps ControllerRevisions that kubectl rollout history and undo read, renumbering one a template returns to', async () => {
    const env = await setup();
    await addNodes(env, node('n1'), node('n2'));
    const created = daemonSet('hist');
    created.metadata.annotations = { 'kubernetes.io/change-cause': 'first' };
    const ds = await env.registry.create<DaemonSet>(DS, created);
    await env.mgr.idle();

    let revs = rolloutHistory(env, 'hist');
    assert.equal(revs.length, 1);
    const [r1] = revs as [ControllerRevision];
    const hash1 = podTemplateHash(getDs(env, 'hist').spec.template);
    assert.equal(r1.metadata.name, `hist-${hash1}`);
    assert.equal(r1.revision, 1);
    assert.equal(r1.metadata.labels?.[HASH], hash1);
    assert.equal(r1.metadata.annotations?.['kubernetes.io/change-cause'], 'first', 'CHANGE-CAUSE of rollout history');
    assert.deepEqual(r1.metadata.ownerReferences, [
      { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'hist', uid: ds.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    assert.deepEqual(r1.data, templatePatchData(getDs(env, 'hist').spec.template));
    assert.equal((r1.data as { spec: { template: { $patch: string } } }).spec.template.$patch, 'replace');
    assert.ok(podsOf(env, 'hist').every((p) => p.metadata.labels?.[HASH] === hash1));
    assert.equal(getDs(env, 'hist').status!.observedGeneration, getDs(env, 'hist').metadata.generation);

    await setImage(env, 'hist', 'agent:v2');
    await env.mgr.idle();
    revs = rolloutHistory(env, 'hist');
    assert.deepEqual(revs.map((r) => r.revision), [1, 2]);
    const r2 = revs[1]!;
    assert.deepEqual(podsOf(env, 'hist').map((p) => p.metadata.labels?.[HASH]), [revisionHashOf(r2), revisionHashOf(r2)]);
    assert.ok(rolloutComplete(getDs(env, 'hist')));

    // kubectl rollout undo: the second-highest revision's data as a strategic merge patch.
    await undoTo(env, 'hist', revs[0]!);
    revs = rolloutHistory(env, 'hist');
    assert.deepEqual(revs.map((r) => [r.metadata.name, r.revision]), [[r2.metadata.name, 2], [r1.metadata.name, 3]], 'renumbered, not copied');
    assert.ok(podsOf(env, 'hist').every((p) => imageOf(p) === 'agent:v1' && p.metadata.labels?.[HASH] === hash1));
    const st = getDs(env, 'hist').status!;
    assert.equal(st.observedGeneration, getDs(env, 'hist').metadata.generation);
    assert.ok(rolloutComplete(getDs(env, 'hist')));

    // kubectl rollout undo --to-revision=2.
    await undoTo(env, 'hist', revs.find((r) => r.revision === 2)!);
    revs = rolloutHistory(env, 'hist');
    assert.deepEqual(revs.map((r) => [r.metadata.name, r.revision]), [[r1.metadata.name, 3], [r2.metadata.name, 4]]);
    assert.ok(podsOf(env, 'hist').every((p) => imageOf(p) === 'agent:v2'));
  });

  it('prunes revisions beyond revisionHistoryLimit, but never one a pod still runs', async () => {
    const env = await setup();
    await addNodes(env, node('n1'), node('n2'));
    await env.registry.create(DS, daemonSet('prune', { revisionHistoryLimit: 1, updateStrategy: { type: 'OnDelete' } }));
    await env.mgr.idle();
    const v1 = rolloutHistory(env, 'prune')[0]!;
    for (const image of ['agent:v2', 'agent:v3', 'agent:v4']) {
      await setImage(env, 'prune', image);
      await env.mgr.idle();
    }
    let revs = rolloutHistory(env, 'prune');
    assert.deepEqual(revs.map((r) => r.revision), [1, 4], 'v2 and v3 pruned; v1 stays: its pods run');
    assert.equal(revs[0]!.metadata.name, v1.metadata.name);

    for (const p of podsOf(env, 'prune')) await env.registry.delete('pods', 'default', p.metadata.name!);
    await env.mgr.idle();
    assert.deepEqual(podsOf(env, 'prune').map(imageOf), ['agent:v4', 'agent:v4']);
    assert.deepEqual(rolloutHistory(env, 'prune').map((r) => r.revision), [1, 4], 'one old revision is within the limit');

    await setImage(env, 'prune', 'agent:v5');
    await env.mgr.idle();
    revs = rolloutHistory(env, 'prune');
    assert.deepEqual(revs.map((r) => r.revision), [4, 5]);
    assert.equal(revs.some((r) => r.metadata.name === v1.metadata.name), false);
  });

  it('a revision name taken by other data bumps collisionCount, and the pods carry the new hash', async () => {
    const env = await setup();
    await addNodes(env, node('n1'));
    const ds = daemonSet('coll');
    // Someone else's revision holds the name of collision count none (the template as stored, defaults and all).
    const stored = await env.registry.create<DaemonSet>(DS, ds, { dryRun: true });
    const taken = daemonSetRevision({ ...stored, metadata: { ...stored.metadata, uid: 'someone-else' } }, 1, undefined);
    await env.registry.create(CR, { ...taken, metadata: { ...taken.metadata, ownerReferences: [], labels: { other: 'x' } }, data: { other: true } });
    await env.registry.create(DS, ds);
    await env.mgr.idle();
    const st = getDs(env, 'coll').status!;
    assert.equal(st.collisionCount, 1);
    const hash = podTemplateHash(getDs(env, 'coll').spec.template, 1);
    assert.deepEqual(rolloutHistory(env, 'coll').map((r) => r.metadata.name), [`coll-${hash}`]);
    assert.deepEqual(podsOf(env, 'coll').map((p) => p.metadata.labels?.[HASH]), [hash]);
    assert.equal(daemonSetHash(getDs(env, 'coll')), hash);
  });

  it('the pod of a deleted node, which no kubelet is left to finish, is force-deleted by the GC, but a live node\'s kubelet is waited for', async () => {
    const env = await setup(undefined, true);
    env.kubelet.finishes = () => false;
    await addNodes(env, node('stay'), node('gone'));
    await env.registry.create(DS, daemonSet('orph'));
    await env.mgr.idle();
    assert.deepEqual(nodesOf(podsOf(env, 'orph')), ['gone', 'stay']);

    await env.registry.delete('nodes', '', 'gone');
    await env.mgr.idle();
    const stranded = podsOf(env, 'orph').filter((p) => p.spec.nodeName === 'gone');
    assert.equal(stranded.length, 1, 'within the grace the terminating pod stays');
    assert.ok(stranded[0]!.metadata.deletionTimestamp);
    env.clock.now += GC_GRACE_MS;
    env.mgr.resync();
    await env.mgr.idle();
    assert.deepEqual(nodesOf(podsOf(env, 'orph')), ['stay'], 'not even a terminating pod is left on the deleted node');
    const st = getDs(env, 'orph').status!;
    assert.deepEqual([st.desiredNumberScheduled, st.currentNumberScheduled, st.numberMisscheduled], [1, 1, 0]);

    // A pod being deleted on a node that exists is its kubelet's to finish; its replacement waits for it.
    const [pod] = podsOf(env, 'orph');
    await env.registry.delete('pods', 'default', pod!.metadata.name!);
    await env.mgr.idle();
    const now = podsOf(env, 'orph');
    assert.deepEqual(now.map((p) => p.metadata.name), [pod!.metadata.name]);
    assert.ok(now[0]!.metadata.deletionTimestamp);
    env.kubelet.finishes = () => true;
    await env.kubelet.controller.reconcile(`default/${pod!.metadata.name}`);
    await env.mgr.idle();
    const after = podsOf(env, 'orph');
    assert.equal(after.length, 1);
    assert.notEqual(after[0]!.metadata.name, pod!.metadata.name);
    assert.deepEqual(nodesOf(after), ['stay']);
  });

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

describe('daemonset surge planning (pure)', () => {
  const run = { shouldRun: true, shouldContinueRunning: true };
  const sunset = { shouldRun: false, shouldContinueRunning: true };
  let seq = 0;
  const pod = (name: string, hash: string, ok: boolean, node = name): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, uid: name, labels: { [HASH]: hash }, creationTimestamp: new Date(T0 + 1000 * seq++).toISOString() },
    spec: { containers: [], nodeName: node },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ok ? 'True' : 'False' }] },
  });
  const avail = (p: Pod) => isReady(p);
  const names = (pods: Pod[]) => pods.map((p) => p.metadata.name);

  it('starts new pods beside available old ones up to maxSurge, and at once where the old one is unavailable', () => {
    const nodes: NodeState[] = [
      { name: 'a', placement: run, pods: [pod('a-old', 'old', true, 'a')] },
      { name: 'b', placement: run, pods: [pod('b-old', 'old', false, 'b')] },
      { name: 'c', placement: run, pods: [pod('c-old', 'old', true, 'c'), pod('c-new', 'new', false, 'c')] },
      { name: 'd', placement: run, pods: [pod('d-old', 'old', true, 'd'), pod('d-new', 'new', true, 'd')] },
      { name: 'e', placement: run, pods: [pod('e-old', 'old', true, 'e')] },
    ];
    const one = planSurge(nodes, 'new', 1, avail);
    assert.deepEqual(one.createOn, ['b'], 'c already surges: only the unavailable node b');
    assert.deepEqual(names(one.remove), ['d-old'], 'd\'s new pod is available: its old one goes');
    assert.deepEqual(planSurge(nodes, 'new', 2, avail).createOn, ['b', 'a']);
    assert.deepEqual(planSurge(nodes, 'new', 9, avail).createOn, ['b', 'a', 'e']);
  });

  it('keeps an old pod on a node it should leave until enough pods elsewhere are available', () => {
    const nodes: NodeState[] = [
      { name: 'x', placement: run, pods: [pod('x-new', 'new', false, 'x')] },
      { name: 'y', placement: sunset, pods: [pod('y-old', 'old', true, 'y')] },
      { name: 'z', placement: sunset, pods: [pod('z-old', 'old', false, 'z')] },
    ];
    const plan = planSurge(nodes, 'new', 1, avail);
    assert.deepEqual(names(plan.remove), ['z-old'], 'an unavailable one goes at once; y waits for x');
    assert.deepEqual(plan.createOn, []);
    const ready: NodeState[] = [{ name: 'x', placement: run, pods: [pod('x-new2', 'new', true, 'x')] }, nodes[1]!];
    assert.deepEqual(names(planSurge(ready, 'new', 1, avail).remove), ['y-old']);
  });

  it('lets a node keep one old and one new pod until the new one is available, then only the new', () => {
    const old = pod('o', 'old', true);
    const fresh = pod('n', 'new', false);
    assert.deepEqual(surgeExcess([old, fresh], 'new', avail), []);
    assert.deepEqual(names(surgeExcess([old, pod('n2', 'new', true)], 'new', avail)), ['o']);
    assert.deepEqual(names(surgeExcess([pod('o2', 'old', false), fresh], 'new', avail)), ['o2'], 'an unready old pod goes at once');
    const extra = pod('o3', 'old', true);
    assert.deepEqual(names(surgeExcess([extra, old, fresh].reverse(), 'new', avail)), ['o3'], 'only the oldest of each kind stays');
  });

  it('a manage pass while surging keeps old and new side by side and still replaces a finished pod', () => {
    const nodes: NodeState[] = [
      { name: 'a', placement: run, pods: [pod('a-old2', 'old', true, 'a'), pod('a-new2', 'new', false, 'a')] },
      { name: 'b', placement: run, pods: [{ ...pod('b-done', 'old', false, 'b'), status: { phase: 'Failed' } }] },
    ];
    const surging = planManage(nodes, [], { hash: 'new', available: avail });
    assert.deepEqual(names(surging.remove), ['b-done']);
    assert.deepEqual(surging.createOn, ['b'], 'surging, a node whose pods are all going gets its new pod at once');
    const plain = planManage(nodes, []);
    assert.deepEqual(names(plain.remove), ['a-new2', 'b-done'], 'not surging: the newer pod goes');
    assert.deepEqual(plain.createOn, [], 'not surging: the replacement waits until the failed pod is gone');
  });

  it('resolves maxSurge against the desired count, rounding up; OnDelete never surges', () => {
    const ds = (maxSurge: number | string, type = 'RollingUpdate') => daemonSet('s', { updateStrategy: { type, rollingUpdate: { maxUnavailable: 0, maxSurge } } });
    assert.equal(daemonMaxSurge(ds('25%'), 10), 3);
    assert.equal(daemonMaxSurge(ds(2), 10), 2);
    assert.equal(daemonMaxSurge(ds('1%'), 3), 1);
    assert.equal(allowsSurge(ds('1%')), true);
    assert.equal(allowsSurge(ds(0)), false);
    assert.equal(allowsSurge(ds('0%')), false);
    assert.equal(allowsSurge(ds(1, 'OnDelete')), false);
  });
});

describe('daemonset revision pruning (pure)', () => {
  const rev = (n: number, hash: string): ControllerRevision => ({
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: { name: `ds-${hash}`, labels: { [HASH]: hash } },
    revision: n,
  });
  const revs = [rev(1, 'a'), rev(2, 'b'), rev(3, 'c'), rev(4, 'd'), rev(5, 'e')];
  const names = (rs: ControllerRevision[]) => rs.map((r) => r.metadata.name);

  it('keeps limit old revisions, counting those pods run, oldest pruned first, never the current one', () => {
    assert.deepEqual(names(daemonRevisionsToPrune(revs, revs[4]!, new Set(), 2)), ['ds-a', 'ds-b']);
    assert.deepEqual(names(daemonRevisionsToPrune(revs, revs[4]!, new Set(['a']), 2)), ['ds-b', 'ds-c'], 'a runs: it counts and stays');
    assert.deepEqual(names(daemonRevisionsToPrune(revs, revs[4]!, new Set(['a', 'b', 'c']), 2)), ['ds-d'], 'more in use than the limit: the rest go');
    assert.deepEqual(names(daemonRevisionsToPrune(revs, revs[0]!, new Set(), 0)), ['ds-b', 'ds-c', 'ds-d', 'ds-e'], 'the current one stays, whatever its number');
    assert.deepEqual(daemonRevisionsToPrune(revs, revs[4]!, new Set(), 10), []);
  });
});

describe('daemon pods and the scheduler', () => {
  const schedNode = (name: string, ready: string, taints: Taint[] = [], unschedulable = false): SchedNode => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    spec: { taints, unschedulable },
    status: { conditions: [{ type: 'Ready', status: ready }] },
  });
  const owned = (ds: DaemonSet): DaemonSet => ({ ...ds, metadata: { ...ds.metadata, uid: 'ds-uid' } });
  const lifecycle = (key: string): Taint[] => [
    { key, effect: 'NoSchedule' },
    { key, effect: 'NoExecute' },
  ];

  it('adds every automatic toleration kube gives daemon pods', () => {
    const keys = (spec: Record<string, unknown>) => daemonTolerations({ containers: [], ...spec }).map((t) => `${t.key}:${t.effect}:${t.operator}`).sort();
    assert.deepEqual(keys({}), [
      'node.kubernetes.io/disk-pressure:NoSchedule:Exists',
      'node.kubernetes.io/memory-pressure:NoSchedule:Exists',
      'node.kubernetes.io/not-ready:NoExecute:Exists',
      'node.kubernetes.io/pid-pressure:NoSchedule:Exists',
      'node.kubernetes.io/unreachable:NoExecute:Exists',
      'node.kubernetes.io/unschedulable:NoSchedule:Exists',
    ]);
    assert.deepEqual(keys({ hostNetwork: true }), [...keys({}), 'node.kubernetes.io/network-unavailable:NoSchedule:Exists'].sort());
  });

  it('binds a daemon pod to its node through the taints its tolerations cover, where a plain pod cannot go', () => {
    const ds = owned(daemonSet('sys', {}, { hostNetwork: true }));
    const pressed = schedNode(
      'pressed',
      'True',
      ['disk-pressure', 'memory-pressure', 'pid-pressure', 'network-unavailable', 'unschedulable'].map((k) => ({ key: `node.kubernetes.io/${k}`, effect: 'NoSchedule' })),
      true,
    );
    const other = schedNode('other', 'True');
    assert.deepEqual(schedulePod(daemonPodFor(ds, 'pressed', 'h'), [pressed, other]), { nodeName: 'pressed' });
    const plain: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'i' }] } };
    assert.deepEqual(schedulePod(plain, [pressed, other]), { nodeName: 'other' });
  });

  it('places a daemon pod on a not-ready node only when it also tolerates the NoSchedule taint, as kube', () => {
    const early = schedNode('down', 'False'); // the node-lifecycle controller has not tainted it yet
    const tainted = schedNode('down', 'False', lifecycle('node.kubernetes.io/not-ready'));
    const unreachable = schedNode('down', 'Unknown', lifecycle('node.kubernetes.io/unreachable'));
    const plainDs = owned(daemonSet('agent'));
    for (const n of [early, tainted, unreachable]) {
      const r = schedulePod(daemonPodFor(plainDs, 'down', 'h'), [n]);
      assert.ok('unschedulable' in r && /untolerated taint \{node\.kubernetes\.io\/(not-ready|unreachable): \}/.test(r.unschedulable), JSON.stringify(r));
    }
    // The kube way for a daemon that must run on a NotReady node (a network plugin, say): tolerate NoSchedule.
    const cni = owned(daemonSet('cni', {}, { hostNetwork: true, tolerations: [{ operator: 'Exists', effect: 'NoSchedule' }] }));
    const spec = cni.spec.template!.spec as Pod['spec'];
    for (const n of [early, tainted, unreachable]) {
      assert.equal(placementOn(spec, daemonTolerations(spec), n).shouldRun, true);
      assert.deepEqual(schedulePod(daemonPodFor(cni, 'down', 'h'), [n, schedNode('up', 'True')]), { nodeName: 'down' }, n.status!.conditions![0]!.status);
    }
    // A plain pod never lands there, tainted yet or not.
    const plain: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'i' }] } };
    for (const n of [early, tainted, unreachable]) assert.ok('unschedulable' in schedulePod(plain, [n]));
  });
});
