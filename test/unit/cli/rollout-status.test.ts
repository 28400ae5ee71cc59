import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deploymentRolloutState } from '../../../src/cli/commands/rollout.ts';

const deploy = (generation: number, spec: number, status: Record<string, unknown>) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', generation },
  spec: { replicas: spec },
  status,
});

describe('mesh rollout status', () => {
  it('waits for the new spec to be observed, then for updated, old and available replicas, in kubectl\'s order', () => {
    assert.deepEqual(deploymentRolloutState(deploy(2, 3, { observedGeneration: 1 })), { done: false, message: 'Waiting for deployment spec update to be observed...' });
    assert.match((deploymentRolloutState(deploy(2, 3, { observedGeneration: 2, updatedReplicas: 1, replicas: 4 })) as { message: string }).message, /1 out of 3 new replicas have been updated/);
    assert.match((deploymentRolloutState(deploy(2, 3, { observedGeneration: 2, updatedReplicas: 3, replicas: 4 })) as { message: string }).message, /1 old replicas are pending termination/);
    assert.match((deploymentRolloutState(deploy(2, 3, { observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 2 })) as { message: string }).message, /2 of 3 updated replicas are available/);
    assert.deepEqual(deploymentRolloutState(deploy(2, 3, { observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 3 })), {
      done: true,
      message: 'deployment "web" successfully rolled out',
    });
  });

  it('fails once the progress deadline is exceeded', () => {
    const state = deploymentRolloutState(
      deploy(1, 3, { observedGeneration: 1, updatedReplicas: 1, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] }),
    );
    assert.deepEqual(state, { failed: 'deployment "web" exceeded its progress deadline' });
  });
});
