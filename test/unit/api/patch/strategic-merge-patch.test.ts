import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPatch } from '../../../../src/agent/api/patch/index.ts';
import { BadRequest, Invalid } from '../../../../src/agent/api/errors.ts';
import type { KubeObject } from '../../../../src/agent/api/object-types.ts';

const SMP = 'application/strategic-merge-patch+json';

function pod(): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-1',
      namespace: 'default',
      labels: { app: 'web', tier: 'front' },
      finalizers: ['a.example.com/f1', 'b.example.com/f2'],
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'u1', controller: true }],
    },
    spec: {
      containers: [
        {
          name: 'web',
          image: 'nginx:1.25',
          ports: [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 443, protocol: 'TCP' }],
          env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }],
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
        { name: 'sidecar', image: 'busybox:1.36', args: ['sleep', '3600'] },
      ],
      volumes: [{ name: 'data', emptyDir: {} }, { name: 'cfg', configMap: { name: 'cfg' } }],
      tolerations: [{ key: 'k1', operator: 'Exists' }],
    },
    status: {
      phase: 'Running',
      conditions: [
        { type: 'PodScheduled', status: 'True' },
        { type: 'Ready', status: 'False' },
      ],
    },
  };
}

function deployment(): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'default',
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"old":true}', 'team': 'blue' },
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            { name: 'web', image: 'nginx:1.25', ports: [{ containerPort: 80 }] },
            { name: 'log', image: 'fluent:1' },
          ],
        },
      },
    },
  };
}

function containers(o: KubeObject): Array<Record<string, unknown>> {
  return (o.spec as { containers: Array<Record<string, unknown>> }).containers;
}
function templateContainers(o: KubeObject): Array<Record<string, unknown>> {
  return (o.spec as { template: { spec: { containers: Array<Record<string, unknown>> } } }).template.spec.containers;
}

test('maps merge recursively and null deletes a key', () => {
  const out = applyPatch(SMP, pod(), { metadata: { labels: { tier: null, version: 'v2' } } });
  assert.deepEqual(out.metadata.labels, { app: 'web', version: 'v2' });
});

test('never mutates the original, and the result shares nothing with it', () => {
  const original = pod();
  const snapshot = structuredClone(original);
  const out = applyPatch(SMP, original, { spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } });
  assert.deepEqual(original, snapshot);
  (out.metadata.labels as Record<string, string>).app = 'changed';
  assert.equal(original.metadata.labels!.app, 'web');
});

test('containers merge by name: only the named container changes, order is kept', () => {
  const out = applyPatch(SMP, pod(), { spec: { containers: [{ name: 'sidecar', image: 'busybox:1.37' }] } });
  const cs = containers(out);
  assert.deepEqual(cs.map((c) => c.name), ['web', 'sidecar']);
  assert.equal(cs[1]!.image, 'busybox:1.37');
  assert.deepEqual(cs[1]!.args, ['sleep', '3600']);
  assert.equal(cs[0]!.image, 'nginx:1.25');
});

test('a new container is appended', () => {
  const out = applyPatch(SMP, pod(), { spec: { containers: [{ name: 'extra', image: 'redis:7' }] } });
  assert.deepEqual(containers(out).map((c) => c.name), ['web', 'sidecar', 'extra']);
});

test('nested lists merge by their keys: env by name, ports by containerPort, volumeMounts by mountPath', () => {
  const out = applyPatch(SMP, pod(), {
    spec: {
      containers: [
        {
          name: 'web',
          env: [{ name: 'B', value: 'two' }, { name: 'C', value: '3' }],
          ports: [{ containerPort: 443, name: 'https' }],
          volumeMounts: [{ mountPath: '/data', readOnly: true }],
        },
      ],
    },
  });
  const web = containers(out)[0]!;
  assert.deepEqual(web.env, [{ name: 'A', value: '1' }, { name: 'B', value: 'two' }, { name: 'C', value: '3' }]);
  assert.deepEqual(web.ports, [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 443, protocol: 'TCP', name: 'https' }]);
  assert.deepEqual(web.volumeMounts, [{ name: 'data', mountPath: '/data', readOnly: true }]);
});

test('lists without patch metadata are replaced atomically', () => {
  const out = applyPatch(SMP, pod(), {
    spec: { tolerations: [{ key: 'k2', operator: 'Exists' }], containers: [{ name: 'sidecar', args: ['sleep', '1'] }] },
  });
  assert.deepEqual((out.spec as { tolerations: unknown }).tolerations, [{ key: 'k2', operator: 'Exists' }]);
  assert.deepEqual(containers(out)[1]!.args, ['sleep', '1']);
});

test('$patch: delete on a list element removes it by merge key', () => {
  const out = applyPatch(SMP, pod(), {
    spec: { containers: [{ name: 'sidecar', $patch: 'delete' }], volumes: [{ name: 'cfg', $patch: 'delete' }] },
  });
  assert.deepEqual(containers(out).map((c) => c.name), ['web']);
  assert.deepEqual((out.spec as { volumes: unknown }).volumes, [{ name: 'data', emptyDir: {} }]);
});

test('$patch: replace as a list element replaces the whole merging list', () => {
  const out = applyPatch(SMP, pod(), {
    spec: { containers: [{ name: 'solo', image: 'alpine:3' }, { $patch: 'replace' }] },
  });
  assert.deepEqual(containers(out), [{ name: 'solo', image: 'alpine:3' }]);
});

test('$patch: replace on a map replaces it instead of merging', () => {
  const out = applyPatch(SMP, pod(), { metadata: { labels: { $patch: 'replace', only: 'this' } } });
  assert.deepEqual(out.metadata.labels, { only: 'this' });
});

test('$patch: delete on a map removes it', () => {
  const out = applyPatch(SMP, pod(), { metadata: { labels: { $patch: 'delete' } } });
  assert.equal(out.metadata.labels, undefined);
  assert.equal(out.metadata.name, 'web-1');
});

test('$patch: merge behaves as a plain merge', () => {
  const out = applyPatch(SMP, pod(), { metadata: { labels: { $patch: 'merge', x: 'y' } } });
  assert.deepEqual(out.metadata.labels, { app: 'web', tier: 'front', x: 'y' });
});

test('an unknown $patch value is a BadRequest naming the field', () => {
  assert.throws(
    () => applyPatch(SMP, pod(), { metadata: { labels: { $patch: 'explode' } } }),
    (err: unknown) => err instanceof BadRequest && /metadata\.labels/.test(err.message) && /explode/.test(err.message),
  );
});

test('finalizers merge as a set', () => {
  const out = applyPatch(SMP, pod(), { metadata: { finalizers: ['b.example.com/f2', 'c.example.com/f3'] } });
  assert.deepEqual(out.metadata.finalizers, ['a.example.com/f1', 'b.example.com/f2', 'c.example.com/f3']);
});

test('$deleteFromPrimitiveList removes values from a set-like list', () => {
  const out = applyPatch(SMP, pod(), { metadata: { '$deleteFromPrimitiveList/finalizers': ['a.example.com/f1'] } });
  assert.deepEqual(out.metadata.finalizers, ['b.example.com/f2']);
});

test('$deleteFromPrimitiveList and an addition in one patch', () => {
  const out = applyPatch(SMP, pod(), {
    metadata: { '$deleteFromPrimitiveList/finalizers': ['a.example.com/f1'], finalizers: ['z/f'] },
  });
  assert.deepEqual(out.metadata.finalizers, ['b.example.com/f2', 'z/f']);
});

test('ownerReferences merge by uid', () => {
  const out = applyPatch(SMP, pod(), {
    metadata: { ownerReferences: [{ uid: 'u1', blockOwnerDeletion: true }, { apiVersion: 'v1', kind: 'Node', name: 'n', uid: 'u2' }] },
  });
  const refs = out.metadata.ownerReferences!;
  assert.equal(refs.length, 2);
  assert.equal(refs[0]!.blockOwnerDeletion, true);
  assert.equal(refs[0]!.name, 'web-abc');
  assert.equal(refs[1]!.uid, 'u2');
});

test('status conditions merge by type', () => {
  const out = applyPatch(SMP, pod(), { status: { conditions: [{ type: 'Ready', status: 'True' }] } });
  assert.deepEqual((out.status as { conditions: unknown }).conditions, [
    { type: 'PodScheduled', status: 'True' },
    { type: 'Ready', status: 'True' },
  ]);
});

test('kubectl apply patch: $setElementOrder updates one container image and keeps the order', () => {
  const patch =
    '{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\\"new\\":true}"}},' +
    '"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"},{"name":"log"}],' +
    '"containers":[{"image":"nginx:1.27","name":"web"}]}}}}';
  const out = applyPatch(SMP, deployment(), patch);
  const cs = templateContainers(out);
  assert.deepEqual(cs.map((c) => c.name), ['web', 'log']);
  assert.equal(cs[0]!.image, 'nginx:1.27');
  assert.deepEqual(cs[0]!.ports, [{ containerPort: 80 }]);
  assert.equal(cs[1]!.image, 'fluent:1');
  assert.equal(out.metadata.annotations!['kubectl.kubernetes.io/last-applied-configuration'], '{"new":true}');
  assert.equal(out.metadata.annotations!.team, 'blue');
  assert.equal((out.spec as { replicas: number }).replicas, 3);
});

test('the pod-level apply patch from the brief changes only that container', () => {
  const p = pod();
  containers(p).reverse(); // sidecar first, web second
  const out = applyPatch(SMP, p, {
    metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '...' } },
    spec: { '$setElementOrder/containers': [{ name: 'web' }], containers: [{ image: 'x:2', name: 'web' }] },
  });
  const cs = containers(out);
  assert.deepEqual(cs.map((c) => [c.name, c.image]), [['sidecar', 'busybox:1.36'], ['web', 'x:2']]);
});

test('$setElementOrder reorders, keeping server-only elements in their relative place', () => {
  const p = pod();
  (p.spec as { containers: unknown[] }).containers = [
    { name: 'a', image: 'a' },
    { name: 'server-only', image: 's' },
    { name: 'b', image: 'b' },
  ];
  const out = applyPatch(SMP, p, {
    spec: { '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }, { name: 'c' }], containers: [{ name: 'c', image: 'c' }] },
  });
  const names = containers(out).map((c) => c.name);
  assert.deepEqual(new Set(names), new Set(['a', 'b', 'c', 'server-only']));
  assert.ok(names.indexOf('b') < names.indexOf('a'));
  assert.ok(names.indexOf('a') < names.indexOf('c'));
});

test('$setElementOrder without the list in the patch only reorders', () => {
  const out = applyPatch(SMP, pod(), { spec: { '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'web' }] } });
  assert.deepEqual(containers(out).map((c) => c.name), ['sidecar', 'web']);
  assert.equal(containers(out)[1]!.image, 'nginx:1.25');
});

test('$setElementOrder on a scalar set orders it', () => {
  const out = applyPatch(SMP, pod(), {
    metadata: { '$setElementOrder/finalizers': ['b.example.com/f2', 'a.example.com/f1'] },
  });
  assert.deepEqual(out.metadata.finalizers, ['b.example.com/f2', 'a.example.com/f1']);
});

test('$retainKeys drops fields not listed (deployment strategy switch to Recreate)', () => {
  const out = applyPatch(SMP, deployment(), {
    spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } },
  });
  assert.deepEqual((out.spec as { strategy: unknown }).strategy, { type: 'Recreate' });
});

test('$retainKeys on a volume switches its source', () => {
  const out = applyPatch(SMP, pod(), {
    spec: { volumes: [{ name: 'data', $retainKeys: ['name', 'hostPath'], hostPath: { path: '/srv' } }] },
  });
  assert.deepEqual((out.spec as { volumes: unknown[] }).volumes[0], { name: 'data', hostPath: { path: '/srv' } });
});

test('$retainKeys that leaves out a patched field is Invalid', () => {
  assert.throws(
    () => applyPatch(SMP, deployment(), { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: { maxSurge: 1 } } } }),
    (err: unknown) => err instanceof Invalid && /rollingUpdate/.test(err.message),
  );
});

test('a merging list element without its merge key is a BadRequest naming the key', () => {
  assert.throws(
    () => applyPatch(SMP, pod(), { spec: { containers: [{ image: 'x' }] } }),
    (err: unknown) => err instanceof BadRequest && /merge key: name/.test(err.message),
  );
});

test('a new element with nulls and directives inside is stored clean', () => {
  const out = applyPatch(SMP, pod(), {
    spec: { containers: [{ name: 'new', image: 'x', env: [{ name: 'A', value: null }], resources: { limits: null } }] },
  });
  const added = containers(out)[2]!;
  assert.deepEqual(added, { name: 'new', image: 'x', env: [{ name: 'A' }], resources: {} });
});

test('services merge ports by port; nodes merge addresses and conditions by type', () => {
  const svc: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 's' },
    spec: { ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] },
  };
  const s2 = applyPatch(SMP, svc, { spec: { ports: [{ port: 80, nodePort: 30080 }, { port: 443, protocol: 'TCP' }] } });
  assert.deepEqual((s2.spec as { ports: unknown }).ports, [
    { port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 30080 },
    { port: 443, protocol: 'TCP' },
  ]);
  const node: KubeObject = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1' },
    status: {
      addresses: [{ type: 'InternalIP', address: '10.0.0.1' }, { type: 'Hostname', address: 'n1' }],
      conditions: [{ type: 'Ready', status: 'True' }, { type: 'MemoryPressure', status: 'False' }],
    },
  };
  const n2 = applyPatch(SMP, node, {
    status: { addresses: [{ type: 'InternalIP', address: '10.0.0.9' }], conditions: [{ type: 'Ready', status: 'Unknown' }] },
  });
  const st = n2.status as { addresses: unknown; conditions: unknown };
  assert.deepEqual(st.addresses, [{ type: 'InternalIP', address: '10.0.0.9' }, { type: 'Hostname', address: 'n1' }]);
  assert.deepEqual(st.conditions, [{ type: 'Ready', status: 'Unknown' }, { type: 'MemoryPressure', status: 'False' }]);
});

test('types without metadata (ConfigMap) merge maps and replace lists', () => {
  const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1', b: '2' } };
  const out = applyPatch(SMP, cm, { data: { a: null, c: '3' } });
  assert.deepEqual(out.data, { b: '2', c: '3' });
});

test('an unknown directive is a BadRequest', () => {
  assert.throws(() => applyPatch(SMP, pod(), { spec: { $bogus: 1 } }), BadRequest);
});

test('a non-object patch is a BadRequest', () => {
  assert.throws(() => applyPatch(SMP, pod(), [1, 2]), BadRequest);
});
