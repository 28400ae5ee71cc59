import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admit, applyDefaults } from '../../../../src/agent/api/admission/index.ts';
import { Invalid } from '../../../../src/agent/api/errors.ts';
import { check, fields, render, typeOf, type Obj } from './fixtures.ts';

function pvc(spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data', namespace: 'default' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec },
    ...extra,
  };
}

function pv(spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: 'vol-1' },
    spec: { capacity: { storage: '5Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/srv/vol-1' }, ...spec },
    ...extra,
  };
}

test('claim defaults: volumeMode Filesystem and phase Pending', () => {
  const c = pvc();
  applyDefaults(typeOf('PersistentVolumeClaim'), c);
  assert.equal(c.spec.volumeMode, 'Filesystem');
  assert.deepEqual(c.status, { phase: 'Pending' });
  const bound = pvc({ volumeMode: 'Filesystem' }, { status: { phase: 'Bound' } });
  applyDefaults(typeOf('PersistentVolumeClaim'), bound);
  assert.equal(bound.status.phase, 'Bound', 'an existing phase is kept');
});

test('volume defaults: Retain, Filesystem and phase Available', () => {
  const v = pv();
  applyDefaults(typeOf('PersistentVolume'), v);
  assert.equal(v.spec.persistentVolumeReclaimPolicy, 'Retain');
  assert.equal(v.spec.volumeMode, 'Filesystem');
  assert.deepEqual(v.status, { phase: 'Available' });
  const del = pv({ persistentVolumeReclaimPolicy: 'Delete' });
  applyDefaults(typeOf('PersistentVolume'), del);
  assert.equal(del.spec.persistentVolumeReclaimPolicy, 'Delete');
});

test('a valid claim and a valid volume pass', () => {
  assert.deepEqual(check(pvc()), []);
  assert.deepEqual(check(pvc({ storageClassName: '', selector: { matchLabels: { tier: 'db' } }, volumeName: 'vol-1' })), []);
  assert.deepEqual(check(pv()), []);
  assert.deepEqual(check(pv({ hostPath: undefined, local: { path: '/data/v' }, persistentVolumeReclaimPolicy: 'Delete' })), []);
});

test('claim access modes are required and from the allowed set', () => {
  assert.deepEqual(render(check(pvc({ accessModes: [] }))), ['spec.accessModes: Required value: at least 1 access mode is required']);
  assert.deepEqual(render(check(pvc({ accessModes: undefined }))), ['spec.accessModes: Required value: at least 1 access mode is required']);
  assert.deepEqual(render(check(pvc({ accessModes: ['ReadWriteAll'] }))), [
    'spec.accessModes: Unsupported value: "ReadWriteAll": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
  ]);
  assert.deepEqual(render(check(pvc({ accessModes: ['ReadWriteOncePod', 'ReadOnlyMany'] }))), [
    'spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes',
  ]);
});

test('claim storage request is required and a quantity above zero', () => {
  assert.deepEqual(render(check(pvc({ resources: {} }))), ['spec.resources[storage]: Required value']);
  assert.deepEqual(render(check(pvc({ resources: { requests: { storage: '0' } } }))), ['spec.resources[storage]: Invalid value: "0": must be greater than zero']);
  assert.deepEqual(render(check(pvc({ resources: { requests: { storage: '-1Gi' } } }))), ['spec.resources[storage]: Invalid value: "-1Gi": must be greater than zero']);
  assert.deepEqual(fields(check(pvc({ resources: { requests: { storage: 'lots' } } }))), ['spec.resources[storage]']);
  assert.deepEqual(check(pvc({ resources: { requests: { storage: 1073741824 } } })), [], 'a bare number from YAML is a quantity');
});

test('claim class, volume name and mode are checked', () => {
  assert.deepEqual(fields(check(pvc({ storageClassName: 'Not_A_Name' }))), ['spec.storageClassName']);
  assert.deepEqual(fields(check(pvc({ volumeName: 'Bad Name' }))), ['spec.volumeName']);
  assert.deepEqual(render(check(pvc({ volumeMode: 'Block' }))), ['spec.volumeMode: Unsupported value: "Block": supported values: "Filesystem"']);
  assert.deepEqual(fields(check(pvc({ selector: { matchExpressions: [{ key: 'a', operator: 'Near' }] } }))), ['spec.selector.matchExpressions[0].operator']);
  assert.deepEqual(fields(check(pvc({ accessModes: 'ReadWriteOnce' }))), ['spec.accessModes'], 'a type error is reported alone');
});

test('claim spec is immutable except a growing storage request and a first volumeName', () => {
  const old = pvc();
  assert.deepEqual(check(pvc({ volumeName: 'vol-1' }), old), [], 'volumeName may be set once');
  assert.deepEqual(check(pvc({ resources: { requests: { storage: '2Gi' } } }), old), [], 'storage may grow');
  assert.deepEqual(check(pvc({ resources: { requests: { storage: '1024Mi' } } }), old), [], 'the same size in other units');
  assert.deepEqual(render(check(pvc({ resources: { requests: { storage: '512Mi' } } }), old)), [
    'spec.resources.requests.storage: Forbidden: field can not be less than previous value',
  ]);
  assert.deepEqual(render(check(pvc({ accessModes: ['ReadWriteMany'] }), old)), [
    'spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
  ]);
  assert.deepEqual(fields(check(pvc({ storageClassName: 'fast' }), old)), ['spec']);
  const bound = pvc({ volumeName: 'vol-1' });
  assert.deepEqual(fields(check(pvc({ volumeName: 'vol-2' }), bound)), ['spec'], 'volumeName changes only once');
  assert.deepEqual(fields(check(pvc({ volumeName: undefined }), bound)), ['spec'], 'and is never cleared');
});

test('volume access modes, capacity and reclaim policy', () => {
  assert.deepEqual(render(check(pv({ accessModes: [] }))), ['spec.accessModes: Required value']);
  assert.deepEqual(render(check(pv({ capacity: undefined }))), ['spec.capacity: Required value']);
  assert.deepEqual(render(check(pv({ capacity: { storage: '0' } }))), ['spec.capacity[storage]: Invalid value: "0": must be greater than zero']);
  assert.deepEqual(render(check(pv({ capacity: { storage: '1Gi', cpu: '1' } }))), [
    'spec.capacity: Unsupported value: {"storage":"1Gi","cpu":"1"}: supported values: "storage"',
  ]);
  assert.deepEqual(render(check(pv({ persistentVolumeReclaimPolicy: 'Keep' }))), [
    'spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"',
  ]);
});

test('volume needs exactly one local or hostPath source with an absolute path', () => {
  assert.deepEqual(render(check(pv({ hostPath: undefined }))), ['spec: Required value: must specify a volume type']);
  assert.deepEqual(render(check(pv({ local: { path: '/a' } }))), ['spec.local: Forbidden: may not specify more than 1 volume type']);
  assert.deepEqual(render(check(pv({ hostPath: { path: 'srv/x' } }))), ['spec.hostPath.path: Invalid value: "srv/x": must be an absolute path']);
  assert.deepEqual(render(check(pv({ hostPath: undefined, local: {} }))), ['spec.local.path: Required value']);
  assert.deepEqual(render(check(pv({ hostPath: { path: '/srv/../etc' } }))), [`spec.hostPath.path: Invalid value: "/srv/../etc": must not contain '..'`]);
  assert.deepEqual(fields(check(pv({ hostPath: { path: '/srv', type: 'Folder' } }))), ['spec.hostPath.type']);
  assert.deepEqual(render(check(pv({ hostPath: undefined, nfs: { server: 'x', path: '/e' } }))), [
    'spec.nfs: Forbidden: this volume type is not supported by Mesh; use local or hostPath',
  ]);
});

test('volume node affinity must be a valid required node selector', () => {
  const affinity = (required: unknown) => pv({ nodeAffinity: { required } });
  assert.deepEqual(
    check(affinity({ nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1'] }] }] })),
    [],
  );
  assert.deepEqual(render(check(pv({ nodeAffinity: {} }))), ['spec.nodeAffinity.required: Required value: must specify required node constraints']);
  assert.deepEqual(render(check(affinity({ nodeSelectorTerms: [] }))), [
    'spec.nodeAffinity.required.nodeSelectorTerms: Required value: must have at least one node selector term',
  ]);
  assert.deepEqual(fields(check(affinity({ nodeSelectorTerms: [{ matchExpressions: [{ key: 'k', operator: 'In' }] }] }))), [
    'spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values',
  ]);
  assert.deepEqual(fields(check(affinity({ nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.uid', operator: 'In', values: ['x'] }] }] }))), [
    'spec.nodeAffinity.required.nodeSelectorTerms[0].matchFields[0].key',
  ]);
});

test('volume source, mode and set node affinity are immutable; claimRef and capacity may change', () => {
  const old = pv({ nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'k', operator: 'Exists' }] }] } } });
  const changed = (spec: Record<string, unknown>) => ({ ...old, spec: { ...old.spec, ...spec } });
  assert.deepEqual(check(changed({ claimRef: { namespace: 'default', name: 'data', uid: 'u1' }, capacity: { storage: '10Gi' } }), old), []);
  assert.deepEqual(render(check(changed({ hostPath: { path: '/srv/other' } }), old)), [
    'spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation',
  ]);
  assert.deepEqual(fields(check(changed({ nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'j', operator: 'Exists' }] }] } } }), old)), [
    'spec.nodeAffinity',
  ]);
  const noAffinity = pv();
  assert.deepEqual(check(old, noAffinity), [], 'node affinity may be set when it was unset');
});

test('admit throws a 422 naming the field', () => {
  const bad = pvc({ accessModes: [] });
  assert.throws(
    () => admit(typeOf('PersistentVolumeClaim'), bad),
    (err: unknown) =>
      err instanceof Invalid &&
      err.code === 422 &&
      err.details.causes?.[0]?.field === 'spec.accessModes' &&
      err.message.startsWith('PersistentVolumeClaim "data" is invalid: spec.accessModes: Required value'),
  );
});
