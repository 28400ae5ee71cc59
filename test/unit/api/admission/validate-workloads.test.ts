import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, fields, render, template, workload } from './fixtures.ts';

const KINDS = ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet'];

test('valid workloads of every kind', () => {
  for (const kind of KINDS) assert.deepEqual(check(workload(kind)), [], kind);
});

test('selector is required and may not be empty', () => {
  for (const kind of KINDS) {
    assert.deepEqual(render(check(workload(kind, { selector: undefined }))), ['spec.selector: Required value'], kind);
    assert.deepEqual(render(check(workload(kind, { selector: {} }))), [`spec.selector: Invalid value: {}: empty selector is invalid for ${kind.toLowerCase()}`], kind);
  }
});

test('selector must match the template labels', () => {
  for (const kind of KINDS) {
    const causes = check(workload(kind, { template: template({ app: 'other' }) }));
    assert.deepEqual(render(causes), ['spec.template.metadata.labels: Invalid value: {"app":"other"}: `selector` does not match template `labels`'], kind);
  }
  const expr = workload('Deployment', {
    selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }, { key: 'canary', operator: 'DoesNotExist' }] },
  });
  assert.deepEqual(check(expr), []);
  const exprBad = workload('Deployment', { selector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] } });
  assert.deepEqual(fields(check(exprBad)), ['spec.template.metadata.labels']);
  const opBad = workload('Deployment', { selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'x', operator: 'Near' }, { key: 'y', operator: 'In' }] } });
  assert.deepEqual(render(check(opBad)), [
    'spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator',
    "spec.selector.matchExpressions[1].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
    'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`',
  ]);
});

test('template is validated as a pod spec under spec.template.spec', () => {
  const w = workload('Deployment');
  w.spec.template.spec.containers[0].image = '';
  w.spec.template.spec.containers[0].name = 'Bad';
  assert.deepEqual(fields(check(w)), ['spec.template.spec.containers[0].name', 'spec.template.spec.containers[0].image']);
  const never = workload('ReplicaSet');
  never.spec.template.spec.restartPolicy = 'Never';
  assert.deepEqual(render(check(never)), ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']);
});

test('replicas must be a non-negative integer', () => {
  assert.deepEqual(render(check(workload('Deployment', { replicas: -1 }))), ['spec.replicas: Invalid value: -1: must be greater than or equal to 0']);
  assert.deepEqual(check(workload('StatefulSet', { replicas: 0 })), []);
  assert.deepEqual(check(workload('Deployment', { replicas: 1.5 }))[0]!.reason, 'FieldValueTypeInvalid');
});

test('deployment strategy', () => {
  assert.deepEqual(render(check(workload('Deployment', { strategy: { type: 'BlueGreen' } }))), [
    'spec.strategy.type: Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"',
  ]);
  assert.deepEqual(render(check(workload('Deployment', { strategy: { type: 'Recreate', rollingUpdate: { maxSurge: 1 } } }))), [
    "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
  ]);
  assert.deepEqual(check(workload('Deployment', { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '10%' } } })), []);
  assert.deepEqual(render(check(workload('Deployment', { strategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: '0%' } } }))), [
    'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0',
  ]);
  assert.deepEqual(render(check(workload('Deployment', { strategy: { rollingUpdate: { maxSurge: 'half', maxUnavailable: '150%' } } }))), [
    `spec.strategy.rollingUpdate.maxSurge: Invalid value: "half": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%', or '93%', regex used for validation is '[0-9]+%')`,
    'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%',
  ]);
  assert.deepEqual(fields(check(workload('Deployment', { strategy: { rollingUpdate: { maxSurge: -1 } } }))), ['spec.strategy.rollingUpdate.maxSurge']);
  assert.deepEqual(fields(check(workload('Deployment', { minReadySeconds: 700 }))), ['spec.progressDeadlineSeconds']);
});

test('statefulset fields', () => {
  assert.deepEqual(check(workload('StatefulSet', { serviceName: 'web', podManagementPolicy: 'Parallel' })), []);
  assert.deepEqual(render(check(workload('StatefulSet', { podManagementPolicy: 'Random' }))), [
    "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
  ]);
  assert.deepEqual(fields(check(workload('StatefulSet', { serviceName: 'Web_Svc' }))), ['spec.serviceName']);
  assert.deepEqual(fields(check(workload('StatefulSet', { updateStrategy: { type: 'Sometimes' } }))), ['spec.updateStrategy.type']);
  assert.deepEqual(fields(check(workload('StatefulSet', { updateStrategy: { rollingUpdate: { partition: -1 } } }))), [
    'spec.updateStrategy.rollingUpdate.partition',
  ]);
  assert.deepEqual(fields(check(workload('StatefulSet', { persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Keep' } }))), [
    'spec.persistentVolumeClaimRetentionPolicy.whenDeleted',
  ]);
});

test('daemonset update strategy', () => {
  assert.deepEqual(check(workload('DaemonSet', { updateStrategy: { type: 'OnDelete' } })), []);
  assert.deepEqual(fields(check(workload('DaemonSet', { updateStrategy: { type: 'Blue' } }))), ['spec.updateStrategy.type']);
  assert.deepEqual(fields(check(workload('DaemonSet', { updateStrategy: { rollingUpdate: { maxUnavailable: 0, maxSurge: 0 } } }))), [
    'spec.updateStrategy.rollingUpdate.maxUnavailable',
  ]);
});

test('selectors are immutable on update', () => {
  for (const kind of ['Deployment', 'ReplicaSet', 'DaemonSet']) {
    const old = workload(kind);
    const next = workload(kind, { selector: { matchLabels: { app: 'web', tier: 'x' } }, template: template({ app: 'web', tier: 'x' }) });
    assert.deepEqual(fields(check(next, old)), ['spec.selector'], kind);
    assert.match(check(next, old)[0]!.message, /field is immutable$/);
    const scaled = workload(kind, kind === 'DaemonSet' ? { minReadySeconds: 5 } : { replicas: 5 });
    assert.deepEqual(check(scaled, old), [], kind);
  }
});

test('statefulset updates only touch the allowed fields', () => {
  const old = workload('StatefulSet', { serviceName: 'web' });
  assert.deepEqual(check(workload('StatefulSet', { serviceName: 'web', replicas: 3 }), old), []);
  const causes = check(workload('StatefulSet', { serviceName: 'other' }), old);
  assert.deepEqual(fields(causes), ['spec']);
  assert.match(causes[0]!.message, /^Forbidden: updates to statefulset spec for fields other than 'replicas'/);
});
