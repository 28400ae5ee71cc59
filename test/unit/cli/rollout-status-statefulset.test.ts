import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statefulSetRolloutState } from '../../../src/cli/commands/rollout.ts';

const sts = (generation: number, spec: Record<string, unknown>, status: Record<string, unknown>) => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'web', generation },
  spec: { replicas: 3, ...spec },
  status,
});

const partitioned = (partition: number) => ({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition } } });

describe('mesh rollout status statefulset', () => {
  it('waits for the spec to be observed, then for ready pods', () => {
    assert.deepEqual(statefulSetRolloutState(sts(2, {}, { observedGeneration: 1 })), { done: false, message: 'Waiting for statefulset spec update to be observed...' });
    assert.deepEqual(statefulSetRolloutState(sts(1, {}, {})), { done: false, message: 'Waiting for statefulset spec update to be observed...' });
    assert.deepEqual(statefulSetRolloutState(sts(1, partitioned(0), { observedGeneration: 1, readyReplicas: 1 })), { done: false, message: 'Waiting for 2 pods to be ready...' });
  });

  it('judges a partitioned rollout by the pods at or above the partition', () => {
    const status = { observedGeneration: 1, readyReplicas: 3, updatedReplicas: 1 };
    assert.deepEqual(statefulSetRolloutState(sts(1, partitioned(1), status)), {
      done: false,
      message: 'Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...',
    });
    assert.deepEqual(statefulSetRolloutState(sts(1, partitioned(2), status)), { done: true, message: 'partitioned roll out complete: 1 new pods have been updated...' });
  });

  it('without a rollingUpdate block, waits for the update revision to become current', () => {
    const spec = { updateStrategy: { type: 'RollingUpdate' } };
    const rolling = { observedGeneration: 1, readyReplicas: 3, updatedReplicas: 2, currentReplicas: 1, currentRevision: 'web-a', updateRevision: 'web-b' };
    assert.deepEqual(statefulSetRolloutState(sts(1, spec, rolling)), { done: false, message: 'waiting for statefulset rolling update to complete 2 pods at revision web-b...' });
    const done = { ...rolling, currentReplicas: 3, currentRevision: 'web-b' };
    assert.deepEqual(statefulSetRolloutState(sts(1, spec, done)), { done: true, message: 'statefulset rolling update complete 3 pods at revision web-b...' });
  });

  it('refuses OnDelete sets, as kubectl does', () => {
    assert.deepEqual(statefulSetRolloutState(sts(1, { updateStrategy: { type: 'OnDelete' } }, { observedGeneration: 1 })), {
      failed: 'rollout status is only available for RollingUpdate strategy type',
    });
  });
});
