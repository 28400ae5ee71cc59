import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTable } from '../../../../src/agent/api/table/index.ts';
import { findByKey } from '../../../../src/agent/api/resources.ts';
import type { ContainerStatus, KubeObject, Pod } from '../../../../src/agent/api/object-types.ts';

const NOW = new Date('2025-03-01T12:00:00Z');
function ago(ms: number): string {
  return new Date(NOW.getTime() - ms).toISOString();
}
const MIN = 60_000;

function type(key: string) {
  const t = findByKey(key);
  assert.ok(t, key);
  return t;
}

function row(key: string, obj: KubeObject): Record<string, unknown> {
  const table = renderTable(type(key), [obj], { includeObject: 'None', now: NOW });
  assert.equal(table.rows[0]!.cells.length, table.columnDefinitions.length, 'one cell per column');
  return Object.fromEntries(table.columnDefinitions.map((c, i) => [c.name, table.rows[0]!.cells[i]]));
}

function cs(name: string, state: ContainerStatus['state'], extra: Partial<ContainerStatus> = {}): ContainerStatus {
  return { name, state, lastState: {}, ready: false, restartCount: 0, image: 'img', imageID: '', ...extra };
}

function pod(status: Pod['status'], spec: Partial<Pod['spec']> = {}, meta: Partial<Pod['metadata']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'default', creationTimestamp: ago(5 * MIN), ...meta },
    spec: { nodeName: 'node-a', containers: [{ name: 'web', image: 'nginx' }, { name: 'log', image: 'busybox' }], ...spec },
    status,
  };
}

const running = { running: { startedAt: ago(4 * MIN) } };

test('table envelope, column definitions and priorities for pods', () => {
  const p = pod({ phase: 'Running', podIPs: [{ ip: '10.244.1.7' }] });
  const t = renderTable(type('pods'), [p], { includeObject: 'Metadata', now: NOW, resourceVersion: '42' });
  assert.equal(t.kind, 'Table');
  assert.equal(t.apiVersion, 'meta.k8s.io/v1');
  assert.equal(t.metadata.resourceVersion, '42');
  assert.deepEqual(
    t.columnDefinitions.map((c) => [c.name, c.priority]),
    [['Name', 0], ['Ready', 0], ['Status', 0], ['Restarts', 0], ['Age', 0], ['IP', 1], ['Node', 1], ['Nominated Node', 1], ['Readiness Gates', 1]],
  );
  assert.equal(t.columnDefinitions[0]!.format, 'name');
  assert.deepEqual(t.rows[0]!.object, { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: p.metadata });
});

test('includeObject Object carries the whole object, None carries none', () => {
  const p = pod({ phase: 'Pending' });
  assert.deepEqual(renderTable(type('pods'), [p], { includeObject: 'Object', now: NOW }).rows[0]!.object, p);
  assert.equal(renderTable(type('pods'), [p], { includeObject: 'None', now: NOW }).rows[0]!.object, undefined);
});

test('running pod with both containers ready', () => {
  const r = row('pods', pod({
    phase: 'Running',
    podIPs: [{ ip: '10.244.1.7' }],
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [cs('web', running, { ready: true }), cs('log', running, { ready: true })],
  }));
  assert.deepEqual(r, {
    Name: 'web-1', Ready: '2/2', Status: 'Running', Restarts: '0', Age: '5m',
    IP: '10.244.1.7', Node: 'node-a', 'Nominated Node': '<none>', 'Readiness Gates': '<none>',
  });
});

test('pending pod, not yet scheduled, creating containers', () => {
  assert.equal(row('pods', pod({ phase: 'Pending' }, { nodeName: undefined })).Status, 'Pending');
  assert.equal(row('pods', pod({ phase: 'Pending' }, { nodeName: undefined })).Node, '<none>');
  const creating = row('pods', pod({
    phase: 'Pending',
    containerStatuses: [cs('web', { waiting: { reason: 'ContainerCreating' } }), cs('log', { waiting: { reason: 'ContainerCreating' } })],
  }));
  assert.equal(creating.Status, 'ContainerCreating');
  assert.equal(creating.Ready, '0/2');
});

test('init containers: progress, failure and crash loop', () => {
  const spec = { initContainers: [{ name: 'migrate', image: 'm' }, { name: 'seed', image: 's' }] };
  const progress = row('pods', pod({
    phase: 'Pending',
    initContainerStatuses: [
      cs('migrate', { terminated: { exitCode: 0, reason: 'Completed' } }),
      cs('seed', running),
    ],
    containerStatuses: [cs('web', { waiting: { reason: 'PodInitializing' } }), cs('log', { waiting: { reason: 'PodInitializing' } })],
  }, spec));
  assert.equal(progress.Status, 'Init:1/2');
  const first = row('pods', pod({
    phase: 'Pending',
    initContainerStatuses: [cs('migrate', { waiting: { reason: 'PodInitializing' } }), cs('seed', { waiting: { reason: 'PodInitializing' } })],
  }, spec));
  assert.equal(first.Status, 'Init:0/2');
  const failed = row('pods', pod({
    phase: 'Pending',
    initContainerStatuses: [cs('migrate', { terminated: { exitCode: 3 } })],
  }, spec));
  assert.equal(failed.Status, 'Init:ExitCode:3');
  const loop = row('pods', pod({
    phase: 'Pending',
    initContainerStatuses: [cs('migrate', { waiting: { reason: 'CrashLoopBackOff' } }, {
      restartCount: 4,
      lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(90_000) } },
    })],
  }, spec));
  assert.equal(loop.Status, 'Init:CrashLoopBackOff');
  assert.equal(loop.Restarts, '4 (90s ago)');
});

test('crash loop with restarts shows the reason and the last restart age', () => {
  const r = row('pods', pod({
    phase: 'Running',
    containerStatuses: [
      cs('web', { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } }, {
        restartCount: 3,
        lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(2 * MIN) } },
      }),
      cs('log', running, { ready: true }),
    ],
  }));
  assert.equal(r.Status, 'CrashLoopBackOff');
  assert.equal(r.Ready, '1/2');
  assert.equal(r.Restarts, '3 (2m ago)');
});

test('image pull errors and OOMKilled', () => {
  const pull = row('pods', pod({ phase: 'Pending', containerStatuses: [cs('web', { waiting: { reason: 'ImagePullBackOff' } }), cs('log', running, { ready: true })] }));
  assert.equal(pull.Status, 'ImagePullBackOff');
  const err = row('pods', pod({ phase: 'Pending', containerStatuses: [cs('web', { waiting: { reason: 'ErrImagePull' } })] }));
  assert.equal(err.Status, 'ErrImagePull');
  const oom = row('pods', pod({ phase: 'Running', containerStatuses: [cs('web', { terminated: { exitCode: 137, reason: 'OOMKilled' } })] }));
  assert.equal(oom.Status, 'OOMKilled');
});

test('completed and failed pods', () => {
  const done = renderTable(type('pods'), [pod({
    phase: 'Succeeded',
    containerStatuses: [
      cs('web', { terminated: { exitCode: 0, reason: 'Completed' } }),
      cs('log', { terminated: { exitCode: 0, reason: 'Completed' } }),
    ],
  })], { includeObject: 'None', now: NOW });
  assert.equal(done.rows[0]!.cells[2], 'Completed');
  assert.equal(done.rows[0]!.cells[1], '0/2');
  assert.equal(done.rows[0]!.conditions?.[0]?.reason, 'Succeeded');
  const failed = row('pods', pod({ phase: 'Failed', containerStatuses: [cs('web', { terminated: { exitCode: 2, reason: 'Error' } })] }));
  assert.equal(failed.Status, 'Error');
  const noReason = row('pods', pod({ phase: 'Failed', containerStatuses: [cs('web', { terminated: { exitCode: 0, signal: 9 } })] }));
  assert.equal(noReason.Status, 'Signal:9');
  const evicted = row('pods', pod({ phase: 'Failed', reason: 'Evicted' }));
  assert.equal(evicted.Status, 'Evicted');
});

test('one container completed while another runs reads Running (or NotReady)', () => {
  const statuses = [cs('web', running, { ready: true }), cs('log', { terminated: { exitCode: 0, reason: 'Completed' } })];
  // the last-listed container's reason would otherwise win
  const order = [statuses[1]!, statuses[0]!];
  assert.equal(row('pods', pod({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: order })).Status, 'Running');
  assert.equal(row('pods', pod({ phase: 'Running', containerStatuses: order })).Status, 'NotReady');
});

test('terminating pod', () => {
  const r = row('pods', pod(
    { phase: 'Running', containerStatuses: [cs('web', running, { ready: true }), cs('log', running, { ready: true })] },
    {},
    { deletionTimestamp: ago(10_000) },
  ));
  assert.equal(r.Status, 'Terminating');
  const finished = row('pods', pod({ phase: 'Succeeded' }, {}, { deletionTimestamp: ago(10_000) }));
  assert.equal(finished.Status, 'Succeeded');
});

test('sidecar init containers count towards READY once started', () => {
  const r = row('pods', pod({
    phase: 'Running',
    conditions: [{ type: 'Initialized', status: 'True' }],
    initContainerStatuses: [cs('proxy', running, { started: true, ready: true, restartCount: 1, lastState: { terminated: { exitCode: 1, finishedAt: ago(30_000) } } })],
    containerStatuses: [cs('web', running, { ready: true }), cs('log', running, { ready: true })],
  }, { initContainers: [{ name: 'proxy', image: 'envoy', restartPolicy: 'Always' }] }));
  assert.equal(r.Ready, '3/3');
  assert.equal(r.Status, 'Running');
  assert.equal(r.Restarts, '1 (30s ago)');
});

test('readiness gates and a missing creation timestamp', () => {
  const r = row('pods', pod(
    { phase: 'Running', conditions: [{ type: 'example.com/lb', status: 'True' }] },
    { readinessGates: [{ conditionType: 'example.com/lb' }, { conditionType: 'example.com/x' }] } as never,
    { creationTimestamp: undefined },
  ));
  assert.equal(r['Readiness Gates'], '1/2');
  assert.equal(r.Age, '<unknown>');
});

test('nodes: status, roles and wide columns', () => {
  const node: KubeObject = {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: 'node-a', creationTimestamp: ago(3 * 24 * 60 * MIN), labels: { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/worker': '' } },
    spec: { unschedulable: true },
    status: {
      conditions: [{ type: 'Ready', status: 'True' }],
      addresses: [{ type: 'InternalIP', address: '192.168.1.10' }, { type: 'Hostname', address: 'node-a' }],
      nodeInfo: { kubeletVersion: 'v1.32.0-mesh', osImage: 'Debian GNU/Linux 12', kernelVersion: '6.1.0', containerRuntimeVersion: 'docker://20.10.24' },
    },
  };
  assert.deepEqual(row('nodes', node), {
    Name: 'node-a', Status: 'Ready,SchedulingDisabled', Roles: 'control-plane,worker', Age: '3d', Version: 'v1.32.0-mesh',
    'Internal-IP': '192.168.1.10', 'External-IP': '<none>', 'OS-Image': 'Debian GNU/Linux 12', 'Kernel-Version': '6.1.0',
    'Container-Runtime': 'docker://20.10.24',
  });
  const notReady = row('nodes', { ...node, metadata: { name: 'b' }, spec: {}, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } });
  assert.equal(notReady.Status, 'NotReady');
  assert.equal(notReady.Roles, '<none>');
  assert.equal(row('nodes', { ...node, spec: {}, status: {} }).Status, 'Unknown');
});

test('services: ports, external IPs, selector', () => {
  const svc = (spec: Record<string, unknown>, status: Record<string, unknown> = {}): KubeObject => ({
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', creationTimestamp: ago(MIN) }, spec, status,
  });
  assert.deepEqual(row('services', svc({ type: 'NodePort', clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }], selector: { tier: 'web', app: 'x' } })), {
    Name: 'web', Type: 'NodePort', 'Cluster-IP': '10.96.0.10', 'External-IP': '<none>', 'Port(s)': '80:30080/TCP,53/UDP', Age: '60s', Selector: 'app=x,tier=web',
  });
  assert.equal(row('services', svc({ type: 'LoadBalancer', clusterIP: '10.96.0.11', ports: [{ port: 80 }] }))['External-IP'], '<pending>');
  assert.equal(row('services', svc({ type: 'LoadBalancer', ports: [] }, { loadBalancer: { ingress: [{ ip: '192.168.1.200' }] } }))['External-IP'], '192.168.1.200');
  const headless = row('services', svc({ type: 'ClusterIP', clusterIP: 'None' }));
  assert.equal(headless['Cluster-IP'], 'None');
  assert.equal(headless['Port(s)'], '<none>');
  assert.equal(row('services', svc({ type: 'ExternalName', externalName: 'example.com' }))['External-IP'], 'example.com');
});

test('configmaps, secrets, namespaces', () => {
  assert.deepEqual(row('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', creationTimestamp: ago(MIN) }, data: { a: '1', b: '2' } }), { Name: 'c', Data: 2, Age: '60s' });
  assert.deepEqual(row('secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', creationTimestamp: ago(MIN) }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'x', 'tls.key': 'y' } }), { Name: 's', Type: 'kubernetes.io/tls', Data: 2, Age: '60s' });
  assert.deepEqual(row('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', creationTimestamp: ago(MIN) }, status: { phase: 'Active' } }), { Name: 'default', Status: 'Active', Age: '60s' });
});

test('events', () => {
  const r = row('events', {
    apiVersion: 'v1', kind: 'Event', metadata: { name: 'web-1.17a', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default', fieldPath: 'spec.containers{web}' },
    reason: 'BackOff', type: 'Warning', message: ' Back-off restarting failed container \n',
    firstTimestamp: ago(10 * MIN), lastTimestamp: ago(30_000), count: 7, source: { component: 'kubelet', host: 'node-a' },
  });
  assert.deepEqual(r, {
    'Last Seen': '30s', Type: 'Warning', Reason: 'BackOff', Object: 'pod/web-1', Subobject: 'spec.containers{web}', Source: 'kubelet, node-a',
    Message: 'Back-off restarting failed container', 'First Seen': '10m', Count: 7, Name: 'web-1.17a',
  });
});

test('endpoints list at most three addresses', () => {
  const ep = (subsets: unknown[]): KubeObject => ({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web' }, subsets });
  assert.equal(row('endpoints', ep([{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ port: 80 }] }])).Endpoints, '10.0.0.1:80,10.0.0.2:80');
  assert.equal(
    row('endpoints', ep([{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ port: 80 }, { port: 443 }] }])).Endpoints,
    '10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...',
  );
  assert.equal(row('endpoints', ep([])).Endpoints, '<none>');
  assert.equal(row('endpoints', ep([{ addresses: [{ ip: 'fd00::1' }], ports: [{ port: 80 }] }])).Endpoints, '[fd00::1]:80');
});

const template = {
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'web', image: 'nginx:1.27' }, { name: 'log', image: 'fluent:1' }], nodeSelector: { disk: 'ssd' } },
};

test('deployments, replicasets, statefulsets, daemonsets', () => {
  const meta = { name: 'web', namespace: 'default', creationTimestamp: ago(2 * 60 * MIN) };
  const selector = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] };
  assert.deepEqual(row('deployments.apps', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta,
    spec: { replicas: 3, selector, template }, status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
  }), {
    Name: 'web', Ready: '2/3', 'Up-to-date': 3, Available: 2, Age: '120m', Containers: 'web,log', Images: 'nginx:1.27,fluent:1',
    Selector: 'app=web,env in (prod)',
  });
  assert.deepEqual(row('replicasets.apps', {
    apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: meta, spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template }, status: { replicas: 3 },
  }), { Name: 'web', Desired: 3, Current: 3, Ready: 0, Age: '120m', Containers: 'web,log', Images: 'nginx:1.27,fluent:1', Selector: 'app=web' });
  assert.deepEqual(row('statefulsets.apps', {
    apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: meta, spec: { replicas: 2, template }, status: { readyReplicas: 1 },
  }), { Name: 'web', Ready: '1/2', Age: '120m', Containers: 'web,log', Images: 'nginx:1.27,fluent:1' });
  assert.deepEqual(row('daemonsets.apps', {
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: meta, spec: { selector: { matchLabels: { app: 'web' } }, template },
    status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 3, numberAvailable: 2 },
  }), {
    Name: 'web', Desired: 3, Current: 3, Ready: 2, 'Up-to-date': 3, Available: 2, 'Node Selector': 'disk=ssd', Age: '120m',
    Containers: 'web,log', Images: 'nginx:1.27,fluent:1', Selector: 'app=web',
  });
});

test('a type without its own printer gets Name and Age', () => {
  const t = renderTable(
    { group: 'example.com', version: 'v1', kind: 'Widget', listKind: 'WidgetList', plural: 'widgets', singular: 'widget', namespaced: true, shortNames: [], verbs: [], subresources: [], hasSpec: true },
    [{ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', creationTimestamp: ago(30_000) } }],
    { includeObject: 'None', now: NOW },
  );
  assert.deepEqual(t.columnDefinitions.map((c) => c.name), ['Name', 'Age']);
  assert.deepEqual(t.rows[0]!.cells, ['w', '30s']);
});
