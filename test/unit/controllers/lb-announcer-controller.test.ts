import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry, type Registry } from '../../../src/agent/api/registry.ts';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import { createClusterFsm, type ClusterFsm } from '../../../src/consensus/cluster-fsm.ts';
import { createClusterAllocator, type ServiceObject } from '../../../src/consensus/cluster-allocator.ts';
import { createControllerManager, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import { createServiceAllocationController } from '../../../src/agent/controllers/service-allocation-controller.ts';
import {
  LB_ANNOUNCER_ANNOTATION,
  announcerLoad,
  chooseAnnouncer,
  createLbAnnouncerController,
  isHealthyAnnouncer,
} from '../../../src/agent/controllers/lb-announcer-controller.ts';
import { createFakeRaftNode } from '../../support/fake-raft-node.ts';
import { seededRandom } from '../../support/seeded-random.ts';

function nodeObj(name: string, opts: { ready?: string; taints?: { key: string; effect: string }[]; labels?: Record<string, string> } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, ...(opts.labels ? { labels: opts.labels } : {}) },
    spec: opts.taints ? { taints: opts.taints } : {},
    status: { conditions: [{ type: 'Ready', status: opts.ready ?? 'True' }] },
  } as KubeObject;
}

describe('isHealthyAnnouncer', () => {
  it('wants Ready=True and no unreachable/not-ready taint, no deletion, no exclusion label', () => {
    assert.equal(isHealthyAnnouncer(nodeObj('a')), true);
    assert.equal(isHealthyAnnouncer(nodeObj('a', { ready: 'Unknown' })), false);
    assert.equal(isHealthyAnnouncer(nodeObj('a', { ready: 'False' })), false);
    assert.equal(isHealthyAnnouncer({ ...nodeObj('a'), status: {} } as KubeObject), false);
    assert.equal(isHealthyAnnouncer(nodeObj('a', { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] })), false);
    assert.equal(isHealthyAnnouncer(nodeObj('a', { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }] })), false);
    assert.equal(isHealthyAnnouncer(nodeObj('a', { taints: [{ key: 'dedicated', effect: 'NoSchedule' }] })), true, 'other taints do not matter');
    assert.equal(isHealthyAnnouncer(nodeObj('a', { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': '' } })), false);
    const deleting = nodeObj('a');
    deleting.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    assert.equal(isHealthyAnnouncer(deleting), false);
  });
});

describe('chooseAnnouncer', () => {
  it('keeps a healthy current announcer, even when another node is less loaded', () => {
    assert.equal(chooseAnnouncer({ current: 'b', healthy: ['a', 'b'], load: new Map([['b', 5]]) }), 'b');
  });
  it('moves off an unhealthy announcer to the least loaded healthy node, the first by name among equals', () => {
    const load = new Map([['a', 2], ['b', 1], ['c', 1]]);
    assert.equal(chooseAnnouncer({ current: 'x', healthy: ['c', 'a', 'b'], load }), 'b');
    assert.equal(chooseAnnouncer({ healthy: ['c', 'b'], load: new Map() }), 'b');
  });
  it('has no answer without a healthy node', () => {
    assert.equal(chooseAnnouncer({ current: 'a', healthy: [], load: new Map() }), undefined);
  });
  it('spreads services placed one after another evenly, and only moves the dead node\'s ones', () => {
    const seed = Date.now() % 100_000;
    const rnd = seededRandom(seed);
    for (let round = 0; round < 50; round++) {
      const nodes = Array.from({ length: 1 + Math.floor(rnd() * 6) }, (_, i) => `n${i}`);
      const lbIps: { uid: string; announcer?: string }[] = [];
      const count = Math.floor(rnd() * 30);
      for (let i = 0; i < count; i++) {
        const uid = `s${i}`;
        lbIps.push({ uid, announcer: chooseAnnouncer({ healthy: nodes, load: announcerLoad(lbIps, uid) }) });
      }
      const counts = nodes.map((n) => lbIps.filter((l) => l.announcer === n).length);
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `seed ${seed} round ${round}: ${counts}`);
      if (nodes.length < 2) continue;
      const dead = nodes[Math.floor(rnd() * nodes.length)]!;
      const alive = nodes.filter((n) => n !== dead);
      for (const l of lbIps) {
        const before = l.announcer;
        l.announcer = chooseAnnouncer({ current: l.announcer, healthy: alive, load: announcerLoad(lbIps, l.uid) });
        if (before !== dead) assert.equal(l.announcer, before, `seed ${seed}: a service on a live node moved`);
        else assert.ok(alive.includes(l.announcer!), `seed ${seed}`);
      }
    }
  });
});

describe('announcerLoad', () => {
  it('counts services per announcer, leaving out the one being placed and unassigned ones', () => {
    const load = announcerLoad([{ uid: 'a', announcer: 'n1' }, { uid: 'b', announcer: 'n1' }, { uid: 'c', announcer: 'n2' }, { uid: 'd' }], 'b');
    assert.deepEqual([...load].sort(), [['n1', 1], ['n2', 1]]);
  });
});

interface Env {
  fsm: ClusterFsm;
  registry: Registry;
  manager: ControllerManager;
}

async function setup(nodes: KubeObject[]): Promise<Env> {
  const fsm = createClusterFsm({ lbPool: '192.168.9.10-192.168.9.19' });
  const raft = createFakeRaftNode({ fsm, id: 'leader' });
  const store = createMemoryStore();
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger() });
  await registry.ensureDefaultNamespaces();
  for (const n of nodes) {
    const created = await registry.create('nodes', { ...n, status: undefined } as KubeObject);
    await registry.updateStatus('nodes', { ...created, status: n.status });
  }
  const allocator = createClusterAllocator({ raftNode: raft, logger: silentLogger() });
  const common = { client: registry, allocator, fsm, logger: silentLogger() };
  const manager = createControllerManager({
    client: registry,
    logger: silentLogger(),
    controllers: [createServiceAllocationController(common), createLbAnnouncerController(common)],
  });
  return { fsm, registry, manager };
}

function lbService(name: string, type = 'LoadBalancer'): ServiceObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { type, ports: [{ name: 'http', port: 80 }] } };
}

const annotationOf = (e: Env, name: string) => e.registry.get('services', 'default', name)?.metadata.annotations?.[LB_ANNOUNCER_ANNOTATION];
const uidOf = (e: Env, name: string) => e.registry.get('services', 'default', name)!.metadata.uid!;

async function setNode(e: Env, name: string, opts: Parameters<typeof nodeObj>[1]): Promise<void> {
  const cur = e.registry.get('nodes', '', name)!;
  const want = nodeObj(name, opts);
  const updated = await e.registry.update('nodes', { ...cur, spec: want.spec });
  await e.registry.updateStatus('nodes', { ...updated, status: want.status });
}

describe('lb announcer controller', () => {
  it('assigns one healthy node per LoadBalancer service, spread out, in the FSM and the annotation', async () => {
    const e = await setup([nodeObj('n1'), nodeObj('n2'), nodeObj('n3'), nodeObj('sick', { ready: 'False' })]);
    for (const s of ['a', 'b', 'c']) await e.registry.create('services', lbService(s));
    await e.registry.create('services', lbService('plain', 'ClusterIP'));
    await e.manager.start();
    await e.manager.idle();
    const got = ['a', 'b', 'c'].map((s) => annotationOf(e, s));
    assert.deepEqual([...got].sort(), ['n1', 'n2', 'n3'], 'one service per node');
    for (const s of ['a', 'b', 'c']) assert.equal(e.fsm.lbAnnouncerOf(uidOf(e, s)), annotationOf(e, s));
    assert.equal(annotationOf(e, 'plain'), undefined);
    await e.manager.stop();
  });

  it('moves only the dead node\'s service, keeps it there when the node comes back, and drops the annotation with the type', async () => {
    const e = await setup([nodeObj('n1'), nodeObj('n2')]);
    await e.registry.create('services', lbService('a'));
    await e.registry.create('services', lbService('b'));
    await e.manager.start();
    await e.manager.idle();
    const aWas = annotationOf(e, 'a')!;
    const bWas = annotationOf(e, 'b')!;
    assert.notEqual(aWas, bWas);

    await setNode(e, aWas, { ready: 'Unknown', taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] });
    await e.manager.idle();
    assert.equal(annotationOf(e, 'a'), bWas, 'a moved to the healthy node');
    assert.equal(e.fsm.lbAnnouncerOf(uidOf(e, 'a')), bWas);
    assert.equal(annotationOf(e, 'b'), bWas, 'b stayed');

    await setNode(e, aWas, {});
    await e.manager.idle();
    assert.equal(annotationOf(e, 'a'), bWas, 'a recovered node does not pull the IP back');

    const b = e.registry.get<ServiceObject>('services', 'default', 'b')!;
    const { externalTrafficPolicy: _etp, ...spec } = b.spec as Record<string, unknown>;
    await e.registry.update('services', { ...b, spec: { ...spec, type: 'ClusterIP', ports: [{ name: 'http', port: 80 }] } });
    await e.manager.idle();
    assert.equal(annotationOf(e, 'b'), undefined);
    await e.manager.stop();
  });

  it('waits for a healthy node when there is none', async () => {
    const e = await setup([nodeObj('n1', { ready: 'False' })]);
    await e.registry.create('services', lbService('a'));
    await e.manager.start();
    await e.manager.idle();
    assert.ok(e.fsm.lbIpOf(uidOf(e, 'a')), 'the IP is allocated');
    assert.equal(e.fsm.lbAnnouncerOf(uidOf(e, 'a')), undefined);
    assert.equal(annotationOf(e, 'a'), undefined);
    await setNode(e, 'n1', {});
    await e.manager.idle();
    assert.equal(annotationOf(e, 'a'), 'n1');
    assert.equal(e.fsm.lbAnnouncerOf(uidOf(e, 'a')), 'n1');
    await e.manager.stop();
  });
});
