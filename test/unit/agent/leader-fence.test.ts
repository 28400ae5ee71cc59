import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLeaderFence, LEADER_TERM_ANNOTATION } from '../../../src/agent/leader-fence.ts';
import { createFakeObjectClient } from '../../support/fake-object-client.ts';
import { NotLeader } from '../../../src/agent/api/errors.ts';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';

function cm(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: {} };
}

describe('leader fence', () => {
  it('refuses writes before leadership begins and after it ends, and tags creates with the term', async () => {
    const raft = { leading: false, t: 3, isLeading() { return this.leading; }, term() { return this.t; } };
    const inner = createFakeObjectClient();
    const fence = createLeaderFence(inner, raft);
    await assert.rejects(fence.client.create('configmaps', cm('a')), NotLeader);
    raft.leading = true;
    fence.begin(3);
    const made = await fence.client.create('configmaps', cm('a'));
    assert.equal(made.metadata.annotations?.[LEADER_TERM_ANNOTATION], '3');
    fence.end();
    await assert.rejects(fence.client.delete('configmaps', 'default', 'a'), NotLeader);
    assert.ok(inner.get('configmaps', 'default', 'a'), 'the refused delete changed nothing');
  });

  it('refuses writes once the term moves on or the lease lapses, even before end() is called', async () => {
    const raft = { leading: true, t: 5, isLeading() { return this.leading; }, term() { return this.t; } };
    const fence = createLeaderFence(createFakeObjectClient(), raft);
    fence.begin(5);
    const bind = fence.guarded(async (pod: string) => `bound ${pod}`);
    assert.equal(await bind('p'), 'bound p');
    raft.t = 6;
    await assert.rejects(bind('p'), NotLeader);
    raft.t = 5;
    raft.leading = false;
    assert.equal(fence.holds(), false);
    await assert.rejects(fence.client.create('configmaps', cm('b')), /no longer leads/);
  });
});
