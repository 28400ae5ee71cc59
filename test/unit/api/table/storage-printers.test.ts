import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTable } from '../../../../src/agent/api/table/index.ts';
import { formatAccessModes } from '../../../../src/agent/api/table/printers.ts';
import { findByKey } from '../../../../src/agent/api/resources.ts';
import type { KubeObject } from '../../../../src/agent/api/object-types.ts';

const NOW = new Date('2025-03-01T12:00:00Z');
const created = new Date(NOW.getTime() - 3 * 60_000).toISOString();

function table(key: string, obj: KubeObject) {
  const t = findByKey(key);
  assert.ok(t, key);
  const out = renderTable(t, [obj], { includeObject: 'None', now: NOW });
  return { columns: out.columnDefinitions, cells: out.rows[0]!.cells };
}

test('access modes print as kubectl abbreviates them, in its order, once each', () => {
  assert.equal(formatAccessModes(['ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOnce']), 'RWO,RWX');
  assert.equal(formatAccessModes(['ReadWriteOncePod']), 'RWOP');
  assert.equal(formatAccessModes(['ReadOnlyMany', 'Bogus']), 'ROX');
  assert.equal(formatAccessModes(undefined), '');
});

test('pvc columns and a bound claim', () => {
  const { columns, cells } = table('persistentvolumeclaims', {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data', namespace: 'default', creationTimestamp: created },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'local-path', volumeName: 'pvc-123', volumeMode: 'Filesystem' },
    status: { phase: 'Bound', accessModes: ['ReadWriteOnce', 'ReadOnlyMany'], capacity: { storage: '2Gi' } },
  });
  assert.deepEqual(
    columns.filter((c) => c.priority === 0).map((c) => c.name.toUpperCase()),
    ['NAME', 'STATUS', 'VOLUME', 'CAPACITY', 'ACCESS MODES', 'STORAGECLASS', 'VOLUMEATTRIBUTESCLASS', 'AGE'],
  );
  assert.deepEqual(cells, ['data', 'Bound', 'pvc-123', '2Gi', 'RWO,ROX', 'local-path', '<unset>', '3m', 'Filesystem']);
});

test('an unbound claim shows no capacity or modes, and a deleting one is Terminating', () => {
  const { cells } = table('persistentvolumeclaims', {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data', namespace: 'default', creationTimestamp: created, deletionTimestamp: NOW.toISOString() },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    status: { phase: 'Pending' },
  });
  assert.deepEqual(cells, ['data', 'Terminating', '', '', '', '', '<unset>', '3m', '<unset>']);
});

test('pv columns and a bound provisioned volume', () => {
  const { columns, cells } = table('persistentvolumes', {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: 'pvc-123', creationTimestamp: created },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Delete',
      storageClassName: 'local-path',
      volumeMode: 'Filesystem',
      claimRef: { namespace: 'default', name: 'data', uid: 'u1' },
      local: { path: '/var/lib/mesh/volumes/pvc-123' },
    },
    status: { phase: 'Bound' },
  });
  assert.deepEqual(
    columns.filter((c) => c.priority === 0).map((c) => c.name.toUpperCase()),
    ['NAME', 'CAPACITY', 'ACCESS MODES', 'RECLAIM POLICY', 'STATUS', 'CLAIM', 'STORAGECLASS', 'VOLUMEATTRIBUTESCLASS', 'REASON', 'AGE'],
  );
  assert.deepEqual(cells, ['pvc-123', '1Gi', 'RWO', 'Delete', 'Bound', 'default/data', 'local-path', '<unset>', '', '3m', 'Filesystem']);
});

test('a free volume has no claim; the beta class annotation wins over the field', () => {
  const { cells } = table('persistentvolumes', {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: 'v1', creationTimestamp: created, annotations: { 'volume.beta.kubernetes.io/storage-class': 'slow' } },
    spec: { capacity: { storage: '5Gi' }, accessModes: ['ReadWriteMany'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: 'fast', hostPath: { path: '/srv' } },
    status: { phase: 'Available' },
  });
  assert.deepEqual(cells.slice(0, 7), ['v1', '5Gi', 'RWX', 'Retain', 'Available', '', 'slow']);
});
