import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, fields, render, workload } from './fixtures.ts';

const claim = (name: string, spec: Record<string, unknown> = {}) => ({
  metadata: { name },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec },
});

function withMount(volumeName: string) {
  return {
    metadata: { labels: { app: 'web' } },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27', volumeMounts: [{ name: volumeName, mountPath: '/data' }] }] },
  };
}

test('containers may mount the volumes volumeClaimTemplates give the pods', () => {
  assert.deepEqual(check(workload('StatefulSet', { template: withMount('data'), volumeClaimTemplates: [claim('data')] })), []);
  assert.deepEqual(fields(check(workload('StatefulSet', { template: withMount('logs'), volumeClaimTemplates: [claim('data')] }))), [
    'spec.template.spec.containers[0].volumeMounts[0].name',
  ]);
});

test('volumeClaimTemplates need an access mode and a storage request', () => {
  const bare = check(workload('StatefulSet', { volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: {} }] }));
  assert.deepEqual(render(bare), [
    'spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access mode is required',
    'spec.volumeClaimTemplates[0].spec.resources[storage]: Required value',
  ]);
  assert.deepEqual(fields(check(workload('StatefulSet', { volumeClaimTemplates: [claim('data', { accessModes: ['WriteSometimes'] })] }))), [
    'spec.volumeClaimTemplates[0].spec.accessModes',
  ]);
  assert.deepEqual(fields(check(workload('StatefulSet', { volumeClaimTemplates: [claim('data', { resources: { requests: { storage: '0' } } })] }))), [
    'spec.volumeClaimTemplates[0].spec.resources[storage]',
  ]);
});

test('volumeClaimTemplates names are required, DNS labels and unique', () => {
  assert.deepEqual(render(check(workload('StatefulSet', { volumeClaimTemplates: [claim('data'), claim('data')] }))), [
    'spec.volumeClaimTemplates[1].metadata.name: Duplicate value: "data"',
  ]);
  assert.deepEqual(fields(check(workload('StatefulSet', { volumeClaimTemplates: [claim('Data_1')] }))), ['spec.volumeClaimTemplates[0].metadata.name']);
  assert.deepEqual(fields(check(workload('StatefulSet', { volumeClaimTemplates: [{ spec: claim('x').spec }] }))), ['spec.volumeClaimTemplates[0].metadata.name']);
});

test('a wrongly typed claim template is a type error at its path', () => {
  const causes = check(workload('StatefulSet', { volumeClaimTemplates: [claim('data', { accessModes: 'ReadWriteOnce' })] }));
  assert.deepEqual(fields(causes), ['spec.volumeClaimTemplates[0].spec.accessModes']);
  assert.match(causes[0]!.message, /must be of type array/);
});

test('statefulset strategy and policy fields keep their rules', () => {
  assert.deepEqual(fields(check(workload('StatefulSet', { replicas: -1 }))), ['spec.replicas']);
  assert.deepEqual(fields(check(workload('StatefulSet', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: -2 } } }))), [
    'spec.updateStrategy.rollingUpdate.partition',
  ]);
  assert.deepEqual(fields(check(workload('StatefulSet', { updateStrategy: { type: 'Recreate' } }))), ['spec.updateStrategy.type']);
  assert.deepEqual(fields(check(workload('StatefulSet', { podManagementPolicy: 'Burst' }))), ['spec.podManagementPolicy']);
});
