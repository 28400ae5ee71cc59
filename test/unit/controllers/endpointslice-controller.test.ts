import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry, type Registry } from '../../../src/agent/api/registry.ts';
import type { ObjectClient } from '../../../src/agent/api/object-client.ts';
import type { ContainerPort, KubeObject, Pod } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createControllerManager, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import { createGarbageCollector } from '../../../src/agent/controllers/garbage-collector.ts';
import {
  ENDPOINTSLICE_RESOURCE,
  TRIGGER_TIME_ANNOTATION,
  createEndpointSliceController,
} from '../../../src/agent/controllers/endpointslice-controller.ts';
import { desiredEndpointSlices, parseSliceName, portSetHash } from '../../../src/agent/controllers/desired-endpoint-slices.ts';
import { repackSubsets } from '../../../src/agent/controllers/desired-endpoints.ts';
import type { EndpointSlice, EndpointSliceEndpoint, Endpoints, Service } from '../../../src/agent/controllers/service-endpoints.ts';

const T0 = Date.parse('2026-04-01T08:00:00Z');
const MANAGED = { 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.mesh.dev' };

interface Write {
  op: string;
  resource: string;
  name: string;
}

interface Env {
  registry: Registry;
  mgr: ControllerManager;
  writes: Write[];
}

const managers: ControllerManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
});

/** The registry, with every write the controllers make recorded. */
function recording(r: Registry, writes: Write[]): ObjectClient {
  const note = (op: string, resource: string, obj: KubeObject | undefined, name?: string) =>
    writes.push({ op, resource, name: name ?? obj?.metadata.name ?? '' });
  return {
    get: r.get,
    list: r.list,
    watch: r.watch,
    create: (resource, obj) => (note('create', resource, obj), r.create(resource, obj)),
    update: (resource, obj) => (note('update', resource, obj), r.update(resource, obj)),
    updateStatus: (resource, obj) => (note('updateStatus', resource, obj), r.updateStatus(resource, obj)),
    delete: (resource, ns, name, o) => (note('delete', resource, undefined, name), r.delete(resource, ns, name, o)),
  };
}

async function setup(opts: { maxEndpointsPerSlice?: number; gc?: boolean } = {}): Promise<Env> {
  const store = createMemoryStore();
  await store.start();
  const clock = () => new Date(T0);
  const registry = createRegistry({ store, logger: silentLogger(), clock });
  await registry.ensureDefaultNamespaces();
  const writes: Write[] = [];
  const client = recording(registry, writes);
  const controllers = [createEndpointSliceController({ client, logger: silentLogger(), clock, maxEndpointsPerSlice: opts.maxEndpointsPerSlice })];
  if (opts.gc) controllers.push(createGarbageCollector({ client: registry, logger: silentLogger(), clock, orphanGraceMs: 0 }));
  const mgr = createControllerManager({ client, logger: silentLogger(), controllers, baseDelayMs: 5, maxDelayMs: 50 });
  managers.push(mgr);
  return { registry, mgr, writes };
}

function service(name: string, spec: Record<string, unknown> = {}, labels?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default', ...(labels ? { labels } : {}) },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...spec },
  };
}

interface PodState {
  labels?: Record<string, string>;
  ip?: string;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  ready?: boolean;
  node?: string;
  ports?: ContainerPort[];
  hostname?: string;
  subdomain?: string;
}

async function addPod(env: Env, name: string, s: PodState): Promise<Pod> {
  const spec: Pod['spec'] = { nodeName: s.node ?? 'n1', containers: [{ name: 'c', image: 'busybox', ports: s.ports }] };
  if (s.hostname) spec.hostname = s.hostname;
  if (s.subdomain) spec.subdomain = s.subdomain;
  await env.registry.create<Pod>('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: s.labels ?? { app: 'web' } }, spec });
  return setPodStatus(env, name, s);
}

async function setPodStatus(env: Env, name: string, s: PodState): Promise<Pod> {
  const cur = env.registry.get<Pod>('pods', 'default', name)!;
  const status: Pod['status'] = { phase: s.phase ?? 'Running', conditions: [{ type: 'Ready', status: s.ready === false ? 'False' : 'True' }] };
  if (s.ip) {
    status.podIP = s.ip;
    status.podIPs = [{ ip: s.ip }];
  }
  return env.registry.updateStatus<Pod>('pods', { ...cur, status });
}

function slicesOf(env: Env, svc: string): EndpointSlice[] {
  return env.registry
    .list<EndpointSlice>(ENDPOINTSLICE_RESOURCE, { labelSelector: `kubernetes.io/service-name=${svc}` })
    .items.sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
}
function endpointsOf(env: Env, svc: string): Endpoints | undefined {
  return env.registry.get<Endpoints>('endpoints', 'default', svc);
}
function byPod(slices: EndpointSlice[]): Record<string, EndpointSliceEndpoint> {
  return Object.fromEntries(slices.flatMap((s) => s.endpoints ?? []).map((e) => [e.targetRef.name, e]));
}
const conditions = (slices: EndpointSlice[]) => Object.fromEntries(Object.entries(byPod(slices)).map(([k, e]) => [k, e.conditions]));
const sliceWrites = (env: Env) => env.writes.filter((w) => w.resource === ENDPOINTSLICE_RESOURCE || w.resource === 'endpoints');

describe('endpointslice controller', () => {
  it('publishes ready, unready and terminating pods with their conditions, node, zone and owner', async () => {
    const env = await setup();
    await env.registry.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'zone-a' } } });
    const svc = await env.registry.create('services', service('web', {}, { team: 'blue' }));
    const ready = await addPod(env, 'ready', { ip: '10.244.1.2' });
    await addPod(env, 'unready', { ip: '10.244.1.3', ready: false, node: 'n2' });
    await addPod(env, 'leaving', { ip: '10.244.1.4' });
    await addPod(env, 'no-ip', {});
    await addPod(env, 'done', { ip: '10.244.1.5', phase: 'Succeeded', ready: false });
    await addPod(env, 'other', { ip: '10.244.1.6', labels: { app: 'db' } });
    await env.registry.delete('pods', 'default', 'leaving'); // bound: only marked, the kubelet finishes it
    await env.mgr.start();
    await env.mgr.idle();

    const slices = slicesOf(env, 'web');
    assert.equal(slices.length, 1);
    const s = slices[0]!;
    assert.match(s.metadata.name!, /^web-[a-z0-9]{5}$/);
    assert.deepEqual(s.metadata.labels, { team: 'blue', 'kubernetes.io/service-name': 'web', ...MANAGED });
    const owner = { apiVersion: 'v1', kind: 'Service', name: 'web', uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true };
    assert.deepEqual(s.metadata.ownerReferences, [owner]);
    assert.equal(s.metadata.annotations?.[TRIGGER_TIME_ANNOTATION], '2026-04-01T08:00:00Z');
    assert.equal(s.addressType, 'IPv4');
    assert.deepEqual(s.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    assert.deepEqual(conditions(slices), {
      ready: { ready: true, serving: true, terminating: false },
      unready: { ready: false, serving: false, terminating: false },
      leaving: { ready: false, serving: true, terminating: true },
    });
    assert.deepEqual(byPod(slices).ready, {
      addresses: ['10.244.1.2'],
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: 'Pod', namespace: 'default', name: 'ready', uid: ready.metadata.uid },
      nodeName: 'n1',
      zone: 'zone-a',
    });
    assert.equal(byPod(slices).unready!.zone, undefined, 'n2 has no zone');

    const ep = endpointsOf(env, 'web')!;
    assert.deepEqual(ep.metadata.labels, { team: 'blue', 'endpointslice.kubernetes.io/skip-mirror': 'true' });
    assert.deepEqual(ep.metadata.ownerReferences, [owner]);
    assert.deepEqual(ep.subsets, [
      {
        addresses: [{ ip: '10.244.1.2', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'ready', uid: ready.metadata.uid } }],
        notReadyAddresses: [{ ip: '10.244.1.3', nodeName: 'n2', targetRef: { kind: 'Pod', namespace: 'default', name: 'unready', uid: env.registry.get('pods', 'default', 'unready')!.metadata.uid } }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
  });

  it('follows readiness, pod IP changes, deletions and a node zone change', async () => {
    const env = await setup();
    await env.registry.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
    await env.registry.create('services', service('web'));
    await env.mgr.start();
    await addPod(env, 'a', { ip: '10.244.1.2', ready: false });
    await env.mgr.idle();
    assert.deepEqual(conditions(slicesOf(env, 'web')).a, { ready: false, serving: false, terminating: false });
    await setPodStatus(env, 'a', { ip: '10.244.1.2' });
    await env.mgr.idle();
    assert.deepEqual(conditions(slicesOf(env, 'web')).a, { ready: true, serving: true, terminating: false });
    await setPodStatus(env, 'a', { ip: '10.244.1.9' });
    await env.mgr.idle();
    assert.deepEqual(byPod(slicesOf(env, 'web')).a!.addresses, ['10.244.1.9']);
    assert.equal(endpointsOf(env, 'web')!.subsets![0]!.addresses![0]!.ip, '10.244.1.9');

    const node = env.registry.get('nodes', '', 'n1')!;
    await env.registry.update('nodes', { ...node, metadata: { ...node.metadata, labels: { ...node.metadata.labels, 'topology.kubernetes.io/zone': 'z2' } } });
    await env.mgr.idle();
    assert.equal(byPod(slicesOf(env, 'web')).a!.zone, 'z2');

    await env.registry.delete('pods', 'default', 'a', { gracePeriodSeconds: 0 });
    await env.mgr.idle();
    const slices = slicesOf(env, 'web');
    assert.equal(slices.length, 1, 'an empty placeholder slice stays');
    assert.deepEqual([slices[0]!.endpoints ?? [], slices[0]!.ports ?? []], [[], []]);
    assert.equal(endpointsOf(env, 'web')!.subsets, undefined);
  });

  it('resolves named target ports per pod and splits slices by the resolved port set', async () => {
    const env = await setup();
    await env.registry.create(
      'services',
      service('web', {
        ports: [
          { name: 'http', port: 80, targetPort: 'http' },
          { name: 'metrics', port: 9100, targetPort: 'metrics', appProtocol: 'http' },
        ],
      }),
    );
    await addPod(env, 'p8080', { ip: '10.244.1.2', ports: [{ name: 'http', containerPort: 8080 }, { name: 'metrics', containerPort: 9100 }] });
    await addPod(env, 'q8080', { ip: '10.244.1.3', ports: [{ name: 'http', containerPort: 8080 }, { name: 'metrics', containerPort: 9100 }] });
    await addPod(env, 'p9090', { ip: '10.244.1.4', ports: [{ name: 'http', containerPort: 9090 }] });
    await addPod(env, 'udp', { ip: '10.244.1.5', ports: [{ name: 'http', containerPort: 7070, protocol: 'UDP' }] });
    await env.mgr.start();
    await env.mgr.idle();

    const slices = slicesOf(env, 'web');
    const shape = slices.map((s) => ({ ports: (s.ports ?? []).map((p) => `${p.name}:${p.port}${p.appProtocol ? `/${p.appProtocol}` : ''}`), pods: (s.endpoints ?? []).map((e) => e.targetRef.name) }));
    assert.deepEqual(
      shape.sort((a, b) => a.pods[0]!.localeCompare(b.pods[0]!)),
      [
        { ports: ['http:8080', 'metrics:9100/http'], pods: ['p8080', 'q8080'] },
        { ports: ['http:9090'], pods: ['p9090'] },
        { ports: [], pods: ['udp'] }, // a UDP container port never serves a TCP service port
      ],
    );
    for (const s of slices) {
      const parsed = parseSliceName('web', s.metadata.name!);
      assert.equal(parsed?.hash, portSetHash(s.ports ?? []), s.metadata.name);
    }
    // Endpoints: addresses offering the same ports share a subset; a pod without any resolved port is left out.
    const subsets = endpointsOf(env, 'web')!.subsets!.map((s) => ({ ips: (s.addresses ?? []).map((a) => a.ip), ports: (s.ports ?? []).map((p) => `${p.name}:${p.port}`) }));
    assert.deepEqual(subsets, [
      { ips: ['10.244.1.2', '10.244.1.3'], ports: ['http:8080', 'metrics:9100'] },
      { ips: ['10.244.1.4'], ports: ['http:9090'] },
    ]);
  });

  it('publishNotReadyAddresses counts every pod with an IP as ready, terminating ones too', async () => {
    const env = await setup();
    await env.registry.create('services', service('web', { publishNotReadyAddresses: true, clusterIP: 'None' }));
    await addPod(env, 'unready', { ip: '10.244.1.3', ready: false });
    await addPod(env, 'leaving', { ip: '10.244.1.4' });
    await addPod(env, 'pending', { phase: 'Pending', ready: false });
    await env.registry.delete('pods', 'default', 'leaving');
    await env.mgr.start();
    await env.mgr.idle();
    assert.deepEqual(conditions(slicesOf(env, 'web')), {
      unready: { ready: true, serving: false, terminating: false },
      leaving: { ready: true, serving: true, terminating: true },
    });
    assert.equal(slicesOf(env, 'web')[0]!.metadata.labels!['service.kubernetes.io/headless'], '');
    const subsets = endpointsOf(env, 'web')!.subsets!;
    assert.deepEqual(subsets.map((s) => [(s.addresses ?? []).map((a) => a.ip), s.notReadyAddresses]), [[['10.244.1.3', '10.244.1.4'], undefined]]);
  });

  it('gives a headless service without ports slices and a port-less Endpoints subset, with hostnames', async () => {
    const env = await setup();
    await env.registry.create('services', service('db', { clusterIP: 'None', ports: [] }));
    await addPod(env, 'db-0', { ip: '10.244.2.2', labels: { app: 'db' }, hostname: 'db-0', subdomain: 'db' });
    await addPod(env, 'db-1', { ip: '10.244.2.3', labels: { app: 'db' }, hostname: 'db-1', subdomain: 'elsewhere' });
    await env.mgr.start();
    await env.mgr.idle();
    const slices = slicesOf(env, 'db');
    assert.equal(slices.length, 1);
    assert.deepEqual(slices[0]!.ports, []);
    assert.deepEqual(Object.values(byPod(slices)).map((e) => [e.addresses[0], e.hostname]), [['10.244.2.2', 'db-0'], ['10.244.2.3', undefined]]);
    const subsets = endpointsOf(env, 'db')!.subsets!;
    assert.deepEqual(subsets.map((s) => [s.ports, (s.addresses ?? []).map((a) => [a.ip, a.hostname])]), [[undefined, [['10.244.2.2', 'db-0'], ['10.244.2.3', undefined]]]]);
  });

  it('follows a selector change and a pod that stops matching', async () => {
    const env = await setup();
    await env.registry.create('services', service('web'));
    await addPod(env, 'a', { ip: '10.244.1.2', labels: { app: 'web' } });
    await addPod(env, 'b', { ip: '10.244.1.3', labels: { app: 'web', track: 'canary' } });
    await addPod(env, 'c', { ip: '10.244.1.4', labels: { app: 'other', track: 'canary' } });
    await env.mgr.start();
    await env.mgr.idle();
    assert.deepEqual(Object.keys(byPod(slicesOf(env, 'web'))).sort(), ['a', 'b']);

    const cur = env.registry.get<Service>('services', 'default', 'web')!;
    await env.registry.update('services', { ...cur, spec: { ...cur.spec, selector: { track: 'canary' } } });
    await env.mgr.idle();
    assert.deepEqual(Object.keys(byPod(slicesOf(env, 'web'))).sort(), ['b', 'c']);

    // The pod's new labels no longer match: only the index of what the service counted finds it.
    const b = env.registry.get<Pod>('pods', 'default', 'b')!;
    await env.registry.update('pods', { ...b, metadata: { ...b.metadata, labels: { app: 'web' } } });
    await env.mgr.idle();
    assert.deepEqual(Object.keys(byPod(slicesOf(env, 'web'))), ['c']);
    assert.deepEqual(endpointsOf(env, 'web')!.subsets!.flatMap((s) => (s.addresses ?? []).map((a) => a.targetRef.name)), ['c']);
  });

  it('writes nothing in a steady state, and nothing for changes that do not affect endpoints', async () => {
    const env = await setup();
    await env.registry.create('services', service('web'));
    await addPod(env, 'a', { ip: '10.244.1.2' });
    await addPod(env, 'b', { ip: '10.244.1.3', ready: false });
    await env.mgr.start();
    await env.mgr.idle();
    assert.deepEqual(sliceWrites(env).map((w) => `${w.op} ${w.resource}`).sort(), ['create endpoints', `create ${ENDPOINTSLICE_RESOURCE}`]);
    env.writes.length = 0;
    env.mgr.resync();
    await env.mgr.idle();
    const a = env.registry.get<Pod>('pods', 'default', 'a')!;
    await env.registry.update('pods', { ...a, metadata: { ...a.metadata, annotations: { note: 'x' } } });
    const svc = env.registry.get<Service>('services', 'default', 'web')!;
    await env.registry.update('services', { ...svc, metadata: { ...svc.metadata, annotations: { note: 'y' } } });
    await env.mgr.idle();
    assert.deepEqual(env.writes, []);
  });

  it('repairs its own slices and Endpoints when someone else changes or deletes them', async () => {
    const env = await setup();
    await env.registry.create('services', service('web'));
    await addPod(env, 'a', { ip: '10.244.1.2' });
    await env.mgr.start();
    await env.mgr.idle();
    const [s] = slicesOf(env, 'web');
    await env.registry.update(ENDPOINTSLICE_RESOURCE, { ...s!, endpoints: [{ addresses: ['10.9.9.9'], conditions: { ready: true } }], metadata: { ...s!.metadata, annotations: { mine: 'kept' } } });
    await env.mgr.idle();
    const repaired = slicesOf(env, 'web')[0]!;
    assert.deepEqual(repaired.endpoints!.map((e) => e.addresses[0]), ['10.244.1.2']);
    assert.equal(repaired.metadata.annotations?.mine, 'kept', 'metadata it does not own stays');

    await env.registry.delete(ENDPOINTSLICE_RESOURCE, 'default', repaired.metadata.name!);
    const ep = endpointsOf(env, 'web')!;
    await env.registry.update('endpoints', { ...ep, subsets: [{ addresses: [{ ip: '10.9.9.9' }] }] });
    await env.mgr.idle();
    assert.deepEqual(slicesOf(env, 'web').map((x) => x.metadata.name), [repaired.metadata.name]);
    assert.deepEqual(endpointsOf(env, 'web')!.subsets![0]!.addresses!.map((x) => x.ip), ['10.244.1.2']);
  });

  it('leaves user-managed Endpoints and slices of selector-less services alone, and removes its own when a selector goes', async () => {
    const env = await setup();
    await env.registry.create('services', service('ext', { selector: undefined }));
    const userEp = await env.registry.create<KubeObject>('endpoints', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'ext', namespace: 'default' }, subsets: [{ addresses: [{ ip: '192.168.1.10' }], ports: [{ port: 80 }] }] });
    await env.registry.create(ENDPOINTSLICE_RESOURCE, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'ext-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'ext' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['192.168.1.10'] }],
    });
    await env.registry.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'cname', namespace: 'default' }, spec: { type: 'ExternalName', externalName: 'db.example.test', selector: { app: 'web' } } });
    await env.registry.create('services', service('web'));
    await addPod(env, 'a', { ip: '10.244.1.2' });
    await env.mgr.start();
    await env.mgr.idle();
    assert.equal(endpointsOf(env, 'ext')!.metadata.resourceVersion, userEp.metadata.resourceVersion);
    assert.deepEqual(slicesOf(env, 'ext').map((s) => s.metadata.name), ['ext-1']);
    assert.deepEqual([slicesOf(env, 'cname'), endpointsOf(env, 'cname')], [[], undefined], 'ExternalName services get none');
    assert.equal(slicesOf(env, 'web').length, 1);

    const web = env.registry.get<Service>('services', 'default', 'web')!;
    await env.registry.update('services', { ...web, spec: { ...web.spec, selector: undefined } });
    await env.mgr.idle();
    assert.deepEqual([slicesOf(env, 'web'), endpointsOf(env, 'web')], [[], undefined]);
    assert.deepEqual(slicesOf(env, 'ext').map((s) => s.metadata.name), ['ext-1'], 'still untouched');
  });

  it('owns its objects through the Service, so the garbage collector removes them with it', async () => {
    const env = await setup({ gc: true });
    const svc = await env.registry.create('services', service('web'));
    await addPod(env, 'a', { ip: '10.244.1.2' });
    await env.mgr.start();
    await env.mgr.idle();
    const owned = [...slicesOf(env, 'web'), endpointsOf(env, 'web')!];
    assert.equal(owned.length, 2);
    for (const o of owned) {
      assert.deepEqual(o.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    }
    await env.registry.delete('services', 'default', 'web');
    await env.mgr.idle();
    assert.deepEqual([slicesOf(env, 'web'), endpointsOf(env, 'web')], [[], undefined]);
  });

  it('splits large services into slices of at most maxEndpointsPerSlice, moving as little as possible', async () => {
    const env = await setup({ maxEndpointsPerSlice: 2 });
    await env.registry.create('services', service('web'));
    for (let i = 1; i <= 5; i++) await addPod(env, `p${i}`, { ip: `10.244.1.${i + 1}` });
    await env.mgr.start();
    await env.mgr.idle();
    const before = slicesOf(env, 'web');
    assert.equal(before.length, 3);
    assert.ok(before.every((s) => s.endpoints!.length <= 2));
    assert.deepEqual(Object.keys(byPod(before)).sort(), ['p1', 'p2', 'p3', 'p4', 'p5']);
    const hash = parseSliceName('web', before[0]!.metadata.name!)!.hash;
    assert.deepEqual(before.map((s) => s.metadata.name).sort(), [`web-${hash}`, `web-${hash}-1`, `web-${hash}-2`].sort());

    const home = before.find((s) => s.endpoints!.some((e) => e.targetRef.name === 'p1'))!;
    env.writes.length = 0;
    await env.registry.delete('pods', 'default', 'p1', { gracePeriodSeconds: 0 });
    await env.mgr.idle();
    assert.deepEqual(sliceWrites(env).filter((w) => w.resource === ENDPOINTSLICE_RESOURCE).map((w) => [w.op, w.name]), [['update', home.metadata.name]]);
    env.writes.length = 0;
    await addPod(env, 'p6', { ip: '10.244.1.20' });
    await env.mgr.idle();
    assert.deepEqual(sliceWrites(env).filter((w) => w.resource === ENDPOINTSLICE_RESOURCE).map((w) => [w.op, w.name]), [['update', home.metadata.name]], 'the new pod fills the free room');
    assert.equal(slicesOf(env, 'web').length, 3);
  });
});

describe('endpoint builders', () => {
  const svc: Service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default', uid: 'svc-uid' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } };
  const pod = (name: string): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'web' } },
    spec: { containers: [{ name: 'c', image: 'i' }] },
    status: { phase: 'Running', podIP: `10.0.0.${name.length}`, conditions: [{ type: 'Ready', status: 'True' }] },
  });

  it('keeps endpoints in the slice they are in, whatever the name order', () => {
    const pods = ['a', 'bb', 'ccc'].map(pod);
    const first = desiredEndpointSlices({ service: svc, pods, zoneOf: () => undefined, existing: [], maxEndpointsPerSlice: 2 });
    assert.deepEqual(first.map((s) => s.endpoints!.map((e) => e.targetRef.name)), [['a', 'bb'], ['ccc']]);
    // A pod sorting first arrives: it goes to the slice with room, nothing else moves.
    const again = desiredEndpointSlices({ service: svc, pods: [pod('0'), ...pods], zoneOf: () => undefined, existing: first, maxEndpointsPerSlice: 2 });
    assert.deepEqual(again.map((s) => [s.metadata.name, s.endpoints!.map((e) => e.targetRef.name)]), [
      [first[0]!.metadata.name, ['a', 'bb']],
      [first[1]!.metadata.name, ['0', 'ccc']],
    ]);
  });

  it('repacks Endpoints subsets as Kubernetes does: ports shared by the same addresses merge', () => {
    const addr = (ip: string) => ({ ip, targetRef: { kind: 'Pod' as const, namespace: 'default', name: ip, uid: ip } });
    const port = (name: string, p: number) => ({ name, port: p, protocol: 'TCP' });
    const a = { address: addr('10.0.0.1'), ready: true };
    const b = { address: addr('10.0.0.2'), ready: false };
    const subsets = repackSubsets([
      { member: a, port: port('http', 80) },
      { member: b, port: port('http', 80) },
      { member: a, port: port('admin', 81) },
      { member: b, port: port('admin', 81) },
      { member: a, port: port('debug', 82) },
    ]);
    assert.deepEqual(subsets, [
      { addresses: [a.address], notReadyAddresses: [b.address], ports: [port('admin', 81), port('http', 80)] },
      { addresses: [a.address], ports: [port('debug', 82)] },
    ]);
  });
});
