import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults } from '../../../../src/agent/api/admission/index.ts';
import { defaultPullPolicy } from '../../../../src/agent/api/admission/defaults-pod.ts';
import { pod, service, typeOf, workload, type Obj } from './fixtures.ts';

function defaulted(obj: Obj): Obj {
  applyDefaults(typeOf(obj.kind), obj);
  return obj;
}

test('pod spec, container and status defaults', () => {
  const p = defaulted(
    pod({
      containers: [
        {
          name: 'app',
          image: 'nginx',
          ports: [{ containerPort: 80 }],
          env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
          livenessProbe: { httpGet: { port: 80 } },
          resources: { limits: { cpu: 1, memory: '64Mi' } },
        },
      ],
      initContainers: [{ name: 'init', image: 'busybox:1.36' }],
    }),
  );
  const s = p.spec;
  assert.equal(s.restartPolicy, 'Always');
  assert.equal(s.terminationGracePeriodSeconds, 30);
  assert.equal(s.dnsPolicy, 'ClusterFirst');
  assert.equal(s.schedulerName, 'default-scheduler');
  assert.deepEqual(s.securityContext, {});
  assert.equal(s.enableServiceLinks, true);
  assert.equal(s.serviceAccountName, 'default');
  assert.equal(s.serviceAccount, 'default');
  assert.equal(s.priority, 0);
  const c = s.containers[0];
  assert.equal(c.imagePullPolicy, 'Always');
  assert.equal(c.terminationMessagePath, '/dev/termination-log');
  assert.equal(c.terminationMessagePolicy, 'File');
  assert.equal(c.ports[0].protocol, 'TCP');
  assert.equal(c.env[0].valueFrom.fieldRef.apiVersion, 'v1');
  assert.deepEqual(c.livenessProbe, {
    httpGet: { port: 80, path: '/', scheme: 'HTTP' },
    timeoutSeconds: 1,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
  });
  // Numeric quantities become text; requests default to limits.
  assert.deepEqual(c.resources, { limits: { cpu: '1', memory: '64Mi' }, requests: { cpu: '1', memory: '64Mi' } });
  const init = s.initContainers[0];
  assert.equal(init.imagePullPolicy, 'IfNotPresent');
  assert.deepEqual(init.resources, {});
  assert.equal(p.status.phase, 'Pending');
  // Limits-only on the app container, nothing on the init container.
  assert.equal(p.status.qosClass, 'Burstable');
});

test('limits-only pod becomes Guaranteed through defaulted requests', () => {
  const p = defaulted(pod({ containers: [{ name: 'a', image: 'x:1', resources: { limits: { cpu: '1', memory: '1Gi' } } }] }));
  assert.equal(p.status.qosClass, 'Guaranteed');
  assert.equal(defaulted(pod()).status.qosClass, 'BestEffort');
});

test('defaults never overwrite given values', () => {
  const p = defaulted(pod({ restartPolicy: 'Never', serviceAccountName: 'robot', dnsPolicy: 'Default' }));
  assert.equal(p.spec.restartPolicy, 'Never');
  assert.equal(p.spec.serviceAccountName, 'robot');
  assert.equal(p.spec.serviceAccount, 'robot');
  assert.equal(p.spec.dnsPolicy, 'Default');
  const q = defaulted({ ...pod(), status: { phase: 'Running', qosClass: 'Guaranteed' } });
  assert.equal(q.status.phase, 'Running');
  assert.equal(q.status.qosClass, 'Guaranteed');
});

test('image pull policy follows the tag', () => {
  assert.equal(defaultPullPolicy('nginx'), 'Always');
  assert.equal(defaultPullPolicy('nginx:latest'), 'Always');
  assert.equal(defaultPullPolicy('nginx:1.27'), 'IfNotPresent');
  assert.equal(defaultPullPolicy('localhost:5000/nginx'), 'Always');
  assert.equal(defaultPullPolicy('localhost:5000/nginx:1'), 'IfNotPresent');
  assert.equal(defaultPullPolicy('nginx@sha256:abc'), 'IfNotPresent');
  assert.equal(defaultPullPolicy('nginx:latest@sha256:abc'), 'Always');
});

test('hostNetwork pods get hostPort = containerPort; empty volumes become emptyDir', () => {
  const p = defaulted(
    pod({
      hostNetwork: true,
      containers: [{ name: 'a', image: 'x:1', ports: [{ containerPort: 8080 }] }],
      volumes: [{ name: 'scratch' }, { name: 'cfg', configMap: { name: 'c' } }],
    }),
  );
  assert.equal(p.spec.containers[0].ports[0].hostPort, 8080);
  assert.deepEqual(p.spec.volumes[0], { name: 'scratch', emptyDir: {} });
  assert.equal(p.spec.volumes[1].configMap.defaultMode, 0o644);
});

test('service defaults', () => {
  const s = defaulted(service({ ports: [{ port: 80 }, { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }] }));
  assert.equal(s.spec.type, 'ClusterIP');
  assert.equal(s.spec.sessionAffinity, 'None');
  assert.equal(s.spec.internalTrafficPolicy, 'Cluster');
  assert.equal(s.spec.ipFamilyPolicy, 'SingleStack');
  assert.deepEqual(s.spec.ipFamilies, ['IPv4']);
  assert.deepEqual(s.spec.ports[0], { port: 80, protocol: 'TCP', targetPort: 80 });
  assert.deepEqual(s.spec.ports[1], { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 });
  assert.equal(s.spec.externalTrafficPolicy, undefined);
  assert.equal(s.spec.clusterIP, undefined, 'clusterIP allocation is not admission work');
  const np = defaulted(service({ type: 'NodePort' }));
  assert.equal(np.spec.externalTrafficPolicy, 'Cluster');
  const ext = defaulted(service({ type: 'ExternalName', externalName: 'example.com', ports: undefined }));
  assert.equal(ext.spec.ipFamilies, undefined);
  const aff = defaulted(service({ sessionAffinity: 'ClientIP' }));
  assert.equal(aff.spec.sessionAffinityConfig.clientIP.timeoutSeconds, 10800);
});

test('namespace, secret, event and endpoints defaults', () => {
  const ns = defaulted({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
  assert.deepEqual(ns.spec, { finalizers: ['kubernetes'] });
  assert.deepEqual(ns.status, { phase: 'Active' });
  const sec = defaulted({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { a: 'eA==', b: 'eQ==' }, stringData: { b: 'héllo', c: 'z' } });
  assert.equal(sec.type, 'Opaque');
  assert.equal(sec.stringData, undefined);
  assert.deepEqual(sec.data, { a: 'eA==', b: Buffer.from('héllo').toString('base64'), c: 'eg==' });
  const ev = defaulted({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e' }, involvedObject: { kind: 'Pod', name: 'p' } });
  assert.equal(ev.count, 1);
  assert.equal(ev.type, undefined, 'Kubernetes does not default an event type');
  const ep = defaulted({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'e' }, subsets: [{ ports: [{ port: 80 }] }] });
  assert.equal(ep.subsets[0].ports[0].protocol, 'TCP');
});

test('deployment defaults, including the template', () => {
  const d = defaulted(workload('Deployment'));
  assert.equal(d.spec.replicas, 1);
  assert.deepEqual(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  assert.equal(d.spec.revisionHistoryLimit, 10);
  assert.equal(d.spec.progressDeadlineSeconds, 600);
  assert.equal(d.spec.template.spec.restartPolicy, 'Always');
  assert.equal(d.spec.template.spec.containers[0].imagePullPolicy, 'IfNotPresent');
  // Pod-only defaults stay off templates, as in Kubernetes.
  assert.equal(d.spec.template.spec.serviceAccountName, undefined);
  assert.equal(d.spec.template.status, undefined);
  const r = defaulted(workload('Deployment', { strategy: { type: 'Recreate' } }));
  assert.deepEqual(r.spec.strategy, { type: 'Recreate' });
  assert.equal(defaulted(workload('Deployment', { replicas: 0 })).spec.replicas, 0);
});

test('null template metadata fields are dropped, as decoding into Go structs does (kubectl rollout undo sends creationTimestamp: null)', () => {
  const w = workload('Deployment');
  w.spec.template.metadata = { ...w.spec.template.metadata, creationTimestamp: null };
  const d = defaulted(w);
  assert.equal('creationTimestamp' in d.spec.template.metadata, false);
  assert.deepEqual(d.spec.template.metadata.labels, w.spec.template.metadata.labels);
});

test('replicaset, statefulset and daemonset defaults', () => {
  const rs = defaulted(workload('ReplicaSet'));
  assert.equal(rs.spec.replicas, 1);
  assert.equal(rs.spec.template.spec.dnsPolicy, 'ClusterFirst');
  const sts = defaulted(workload('StatefulSet', { serviceName: 'web' }));
  assert.equal(sts.spec.replicas, 1);
  assert.equal(sts.spec.podManagementPolicy, 'OrderedReady');
  assert.deepEqual(sts.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
  assert.equal(sts.spec.revisionHistoryLimit, 10);
  assert.deepEqual(sts.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
  assert.equal(sts.spec.template.spec.terminationGracePeriodSeconds, 30);
  const ds = defaulted(workload('DaemonSet'));
  assert.deepEqual(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
  assert.equal(ds.spec.revisionHistoryLimit, 10);
  assert.equal(ds.spec.replicas, undefined);
  assert.equal(ds.spec.template.spec.schedulerName, 'default-scheduler');
});

test('defaulting tolerates wrongly typed input', () => {
  const weird: Obj[] = [
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: 'nope' },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: 5 } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: ['x', null, { image: 3, ports: 'p' }] } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { strategy: 'fast', template: [] } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { a: 1 }, data: 'x' },
  ];
  for (const w of weird) assert.doesNotThrow(() => applyDefaults(typeOf(w.kind), w));
});

test('a claim that names no storage class gets the default, local-path; an empty class stays empty', () => {
  const claim = (spec: Record<string, unknown>, annotations?: Record<string, string>) =>
    defaulted({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'c', ...(annotations ? { annotations } : {}) }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec } });
  assert.equal(claim({}).spec.storageClassName, 'local-path');
  assert.equal(claim({}).spec.volumeMode, 'Filesystem');
  assert.equal(claim({ storageClassName: '' }).spec.storageClassName, '');
  assert.equal(claim({ storageClassName: 'manual' }).spec.storageClassName, 'manual');
  assert.equal(claim({}, { 'volume.beta.kubernetes.io/storage-class': 'old' }).spec.storageClassName, undefined);
});
