import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry, type Registry } from '../../../src/agent/api/registry.ts';
import { Invalid, NotLeader } from '../../../src/agent/api/errors.ts';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import { createClusterFsm, type ClusterFsm } from '../../../src/consensus/cluster-fsm.ts';
import { createClusterAllocator, type ClusterAllocator, type ServiceObject } from '../../../src/consensus/cluster-allocator.ts';
import { createControllerManager, type Controller, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import { createServiceAllocationController } from '../../../src/agent/controllers/service-allocation-controller.ts';
import { createNodeCidrController } from '../../../src/agent/controllers/node-cidr-controller.ts';
import { SWEEP_KEY, createOrphanTracker } from '../../../src/agent/controllers/allocation-sweep.ts';
import { createEventRecorder } from '../../../src/agent/event-recorder.ts';
import { createFakeRaftNode, type FakeRaftNode } from '../../support/fake-raft-node.ts';

interface Env {
  fsm: ClusterFsm;
  raft: FakeRaftNode;
  registry: Registry;
  allocator: ClusterAllocator;
  services: Controller;
  nodes: Controller;
  manager: ControllerManager;
  clock: { now: number };
}

async function setup(): Promise<Env> {
  const fsm = createClusterFsm({ lbPool: '192.168.9.10-192.168.9.11' });
  const raft = createFakeRaftNode({ fsm, id: 'leader' });
  const store = createMemoryStore();
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger() });
  await registry.ensureDefaultNamespaces();
  const allocator = createClusterAllocator({ raftNode: raft, logger: silentLogger() });
  const clock = { now: 1_000_000 };
  const events = createEventRecorder({ client: registry, source: { component: 'service-allocation-controller' }, logger: silentLogger() });
  const common = { client: registry, allocator, fsm, logger: silentLogger(), events, now: () => clock.now };
  const services = createServiceAllocationController(common);
  const nodes = createNodeCidrController(common);
  const manager = createControllerManager({ client: registry, logger: silentLogger(), controllers: [services, nodes], isActive: () => raft.isLeading() });
  return { fsm, raft, registry, allocator, services, nodes, manager, clock };
}

function service(name: string, spec: Record<string, unknown>): ServiceObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80 }], ...spec } };
}

const svc = (e: Env, name: string) => e.registry.get<ServiceObject>('services', 'default', name)!;

describe('service allocation controller', () => {
  it('accepts a Service without a ClusterIP, then fills in its addresses from the FSM', async () => {
    const e = await setup();
    const web = await e.registry.create<ServiceObject>('services', service('web', {}));
    assert.equal(web.spec?.clusterIP, undefined, 'the API does not wait for an allocation');
    const np = await e.registry.create<ServiceObject>('services', service('np', { type: 'NodePort', ports: [{ name: 'a', port: 80 }, { name: 'b', port: 53, protocol: 'UDP' }] }));
    await e.registry.create('services', service('lb', { type: 'LoadBalancer' }));
    await e.registry.create('services', service('headless', { clusterIP: 'None' }));
    await e.registry.create('services', { ...service('ext', { type: 'ExternalName', externalName: 'example.org' }), spec: { type: 'ExternalName', externalName: 'example.org' } });
    await e.manager.start();
    await e.manager.idle();

    const w = svc(e, 'web');
    assert.match(w.spec!.clusterIP!, /^10\.96\.\d+\.\d+$/);
    assert.deepEqual(w.spec!.clusterIPs, [w.spec!.clusterIP]);
    assert.equal(e.fsm.clusterIpOf(web.metadata.uid!), w.spec!.clusterIP);

    const n = svc(e, 'np');
    const ports = n.spec!.ports!.map((p) => p.nodePort!);
    assert.ok(ports.every((p) => p >= 30000 && p <= 32767), String(ports));
    assert.notEqual(ports[0], ports[1]);
    assert.deepEqual(e.fsm.nodePortsOf(np.metadata.uid!).map((p) => p.port).sort(), [...ports].sort());

    const lb = svc(e, 'lb');
    const ingress = (lb.status as { loadBalancer: { ingress: { ip: string }[] } }).loadBalancer.ingress;
    assert.deepEqual(ingress.map((i) => i.ip), [e.fsm.lbIpOf(lb.metadata.uid!)]);
    assert.match(ingress[0]!.ip, /^192\.168\.9\.1[01]$/);
    assert.ok(lb.spec!.ports![0]!.nodePort, 'a LoadBalancer gets NodePorts too');

    assert.equal(svc(e, 'headless').spec!.clusterIP, 'None');
    assert.deepEqual(svc(e, 'headless').spec!.clusterIPs, ['None']);
    assert.equal(svc(e, 'ext').spec!.clusterIP, undefined);
    const owners = new Set(e.fsm.allocations().clusterIps.map((c) => c.service));
    assert.deepEqual([...owners].sort(), ['default/lb', 'default/np', 'default/web']);
    await e.manager.stop();
  });

  it('keeps allocated values when a client replaces the Service without them, and follows type changes', async () => {
    const e = await setup();
    await e.registry.create('services', service('s', { type: 'NodePort' }));
    await e.manager.start();
    await e.manager.idle();
    const allocated = svc(e, 's');
    const { clusterIP } = allocated.spec!;
    const nodePort = allocated.spec!.ports![0]!.nodePort;
    // `kubectl replace` of the original manifest: no clusterIP, no nodePort.
    await e.registry.update('services', { ...service('s', { type: 'NodePort' }), metadata: { ...allocated.metadata } });
    await e.manager.idle();
    assert.equal(svc(e, 's').spec!.clusterIP, clusterIP);
    assert.equal(svc(e, 's').spec!.ports![0]!.nodePort, nodePort);
    // Back to ClusterIP: the NodePort goes from the object and the FSM, the ClusterIP stays.
    const cur = svc(e, 's');
    await e.registry.update('services', { ...cur, spec: { ...cur.spec, type: 'ClusterIP', externalTrafficPolicy: undefined, ports: [{ name: 'http', port: 80 }] } });
    await e.manager.idle();
    assert.deepEqual(e.fsm.nodePortsOf(cur.metadata.uid!), []);
    assert.equal(svc(e, 's').spec!.clusterIP, clusterIP);
    await e.manager.stop();
  });

  it('reports a refused requested ClusterIP as a Warning naming the field, and allocates nothing', async () => {
    const e = await setup();
    await e.registry.create('services', service('first', { clusterIP: '10.96.7.7' }));
    await e.registry.create('services', service('second', { clusterIP: '10.96.7.7' }));
    await e.manager.start();
    await e.manager.idle();
    const first = svc(e, 'first');
    const second = svc(e, 'second');
    const holder = e.fsm.allocations().clusterIps.find((c) => c.ip === '10.96.7.7');
    assert.ok(holder && [first.metadata.uid, second.metadata.uid].includes(holder.uid));
    const loser = holder.uid === first.metadata.uid ? second : first;
    assert.equal(e.fsm.clusterIpOf(loser.metadata.uid!), undefined);
    const warnings = e.registry.list('events', { namespace: 'default' }).items.filter((ev) => ev.reason === 'AllocationFailed');
    assert.equal(warnings.length, 1);
    assert.equal((warnings[0]!.involvedObject as { name: string }).name, loser.metadata.name);
    assert.match(warnings[0]!.message as string, /spec\.clusterIP: .*already allocated/);
    await e.manager.stop();
  });

  it('releases the addresses of a deleted Service only after it has been gone for over 10 s', async () => {
    const e = await setup();
    await e.registry.create('services', service('tmp', { type: 'LoadBalancer' }));
    await e.manager.start();
    await e.manager.idle();
    const uid = svc(e, 'tmp').metadata.uid!;
    assert.ok(e.fsm.clusterIpOf(uid) && e.fsm.lbIpOf(uid) && e.fsm.nodePortsOf(uid).length === 1);
    await e.manager.stop();
    await e.registry.delete('services', 'default', 'tmp');
    e.clock.now += 60_000;
    await e.services.reconcile(SWEEP_KEY);
    assert.ok(e.fsm.clusterIpOf(uid), 'first seen missing: kept');
    e.clock.now += 9_000;
    await e.services.reconcile(SWEEP_KEY);
    assert.ok(e.fsm.clusterIpOf(uid), 'missing for 9 s: kept');
    e.clock.now += 3_000;
    await e.services.reconcile(SWEEP_KEY);
    assert.equal(e.fsm.clusterIpOf(uid), undefined);
    assert.equal(e.fsm.lbIpOf(uid), undefined);
    assert.deepEqual(e.fsm.nodePortsOf(uid), []);
  });

  it('does nothing while this agent does not lead', async () => {
    const e = await setup();
    e.raft.setLeading(false);
    await e.registry.create('services', service('idle', {}));
    await e.registry.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, spec: {} });
    await e.manager.start();
    await e.manager.idle();
    assert.equal(svc(e, 'idle').spec!.clusterIP, undefined);
    assert.deepEqual(e.fsm.allocations(), { podCidrs: [], clusterIps: [], nodePorts: [], lbIps: [] });
    await e.manager.stop();
  });
});

describe('node CIDR controller', () => {
  it('gives every Node a distinct /24 and releases the CIDR of a deleted Node after the grace period', async () => {
    const e = await setup();
    for (const n of ['n1', 'n2']) await e.registry.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: n }, spec: {} });
    await e.manager.start();
    await e.manager.idle();
    const spec = (n: string) => e.registry.get<KubeObject & { spec: { podCIDR?: string; podCIDRs?: string[] } }>('nodes', '', n)!.spec;
    assert.match(spec('n1').podCIDR!, /^10\.244\.\d+\.0\/24$/);
    assert.notEqual(spec('n1').podCIDR, spec('n2').podCIDR);
    assert.deepEqual(spec('n2').podCIDRs, [spec('n2').podCIDR]);
    assert.equal(e.fsm.podCidrOf('n1'), spec('n1').podCIDR);
    await e.manager.stop();
    await e.registry.delete('nodes', '', 'n2');
    e.clock.now += 60_000;
    await e.nodes.reconcile(SWEEP_KEY);
    e.clock.now += 11_000;
    await e.nodes.reconcile(SWEEP_KEY);
    assert.equal(e.fsm.podCidrOf('n2'), undefined);
    assert.ok(e.fsm.podCidrOf('n1'));
  });
});

describe('cluster allocator', () => {
  it('turns refusals into Invalid naming the field, and a stale term into NotLeader', async () => {
    const e = await setup();
    const a = await e.registry.create<ServiceObject>('services', service('a', { type: 'NodePort', ports: [{ name: 'x', port: 80, nodePort: 30080 }] }));
    await e.allocator.allocateServiceAddresses(a);
    const b = await e.registry.create<ServiceObject>('services', service('b', { type: 'NodePort', ports: [{ name: 'y', port: 81 }, { name: 'z', port: 82, nodePort: 30080 }] }));
    await assert.rejects(
      e.allocator.allocateServiceAddresses(b),
      (err: unknown) => err instanceof Invalid && err.details.causes?.[0]?.field === 'spec.ports[1].nodePort' && /already allocated/.test(err.message),
    );
    await e.allocator.recordLeadership('leader');
    e.raft.setLeading(true, 5);
    await e.allocator.recordLeadership('leader');
    e.raft.setLeading(true, 4);
    await assert.rejects(e.allocator.allocatePodCidr('late'), NotLeader);
    assert.equal(e.fsm.podCidrOf('late'), undefined);
  });

  it('orphan tracker: only owners missing for longer than the grace period are due', () => {
    const t = createOrphanTracker(10_000);
    assert.deepEqual(t.due(['a', 'b'], (o) => o === 'a', 0), []);
    assert.deepEqual(t.due(['a', 'b'], (o) => o === 'a', 10_000), []);
    assert.deepEqual(t.due(['a', 'b'], (o) => o === 'a', 10_001), ['b']);
    // b came back: the clock restarts when it goes missing again.
    assert.deepEqual(t.due(['a', 'b'], () => true, 10_002), []);
    assert.deepEqual(t.due(['a', 'b'], (o) => o === 'a', 10_003), []);
    assert.deepEqual(t.due(['a', 'b'], (o) => o === 'a', 20_004), ['b']);
  });
});
