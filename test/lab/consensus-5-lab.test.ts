// The Raft subgroup on 5 lab hosts with `mesh init --voters 5`: five voters, a
// killed leader replaced, a cut-off minority of two that cannot act while the
// majority carries on, and a voter that stays down replaced by a host that
// joined later (a sixth host), through membership changes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/agent-process.ts';
import { labDown, labUp, type LabHost } from '../support/lab.ts';
import { agreedLeader, podsOf, raftOf, sleeperTemplate, waitForLeader } from '../support/lab-raft.ts';

const run = Math.random().toString(36).slice(2, 7);

describe('consensus on 5 lab hosts (--voters 5)', () => {
  let hosts: LabHost[] = [];

  before(async () => {
    process.env.MESH_LAB_AGENT_ARGS = '--voter-down-timeout 4s';
    hosts = await labUp(5, { initArgs: ['--voters', '5'] });
  });
  after(async () => {
    delete process.env.MESH_LAB_AGENT_ARGS;
    await labDown();
  });

  it('forms a group of 5 voters', async () => {
    await waitForLeader(hosts, 5, 90_000);
    const view = await raftOf(hosts[4]!);
    assert.deepEqual([...view!.voters].sort(), ['h1', 'h2', 'h3', 'h4', 'h5']);
    assert.deepEqual(view!.learners, []);
  });

  it('elects a new leader when the leader is killed', async (t) => {
    const old = await waitForLeader(hosts, 5);
    const victim = hosts.find((h) => h.name === old)!;
    const rest = hosts.filter((h) => h !== victim);
    await victim.kill9();
    const at = Date.now();
    try {
      const next = await waitFor('a new leader', async () => {
        const l = await agreedLeader(rest);
        return l && l !== old ? l : undefined;
      }, 30_000);
      t.diagnostic(`new leader ${next} after ${Date.now() - at} ms`);
    } finally {
      await victim.start();
    }
    await waitForLeader(hosts, 5);
  });

  it('a cut-off minority of two elects nobody; the majority keeps scheduling', async () => {
    const leader = await waitForLeader(hosts, 5);
    // Cut two hosts, the leader among them, so the majority must elect.
    const minority = [hosts.find((h) => h.name === leader)!, hosts.find((h) => h.name !== leader)!];
    const majority = hosts.filter((h) => !minority.includes(h));
    for (const h of minority) await h.cut();
    try {
      // For up to an election timeout the majority still names the old leader.
      const next = await waitFor('a leader on the majority side', async () => {
        const l = await agreedLeader(majority);
        return l && !minority.some((h) => h.name === l) ? l : undefined;
      }, 30_000);
      assert.ok(majority.some((h) => h.name === next));
      await waitFor('the minority to see no quorum', async () => {
        const views = await Promise.all(minority.map(raftOf));
        return views.every((v) => v && !v.quorum);
      }, 15_000);
      // Until the cut hosts are NotReady the scheduler may still pick them, as kube-scheduler would.
      await waitFor('the cut hosts NotReady on the majority side', async () => {
        const r = await majority[0]!.api('GET', '/api/v1/nodes');
        const ready = (n: any) => n.status?.conditions?.find((c: any) => c.type === 'Ready')?.status;
        return (r.body.items as any[]).filter((n) => minority.some((h) => h.name === n.metadata.name)).every((n) => ready(n) !== 'True');
      }, 15_000);
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `maj-${run}`, namespace: 'default', labels: { app: `maj-${run}` } }, spec: sleeperTemplate({}).spec };
      const r = await majority[0]!.api('POST', '/api/v1/namespaces/default/pods', pod);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const node = await waitFor('the pod bound on the majority side', async () => (await podsOf(majority[1]!, `app=maj-${run}`))[0]?.nodeName, 30_000);
      assert.ok(majority.some((h) => h.name === node), `bound to ${node}, which is cut off`);
      // The minority still serves its own clients.
      const m = await minority[1]!.api('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `min-${run}` }, data: { a: 'b' } });
      assert.equal(m.status, 201, 'the minority refused a write');
    } finally {
      for (const h of minority) await h.heal();
    }
    await waitForLeader(hosts, 5);
    await hosts[0]!.api('DELETE', `/api/v1/namespaces/default/pods/maj-${run}`);
  });

  it('replaces a voter that stays down with a host that joined later', async () => {
    const leader = await waitForLeader(hosts, 5);
    const h6 = (await labUp(6))[5]!;
    const all = [...hosts, h6];
    await waitFor('h6 known as a plain member', async () => {
      const v = await raftOf(h6);
      return v && !v.voters.includes('h6') && v.leader;
    }, 60_000);
    const victim = hosts.find((h) => h.name !== leader)!;
    await victim.cut();
    await victim.kill9();
    try {
      const view = await waitFor(`${victim.name} replaced by h6 among the voters`, async () => {
        const v = await raftOf(all.find((h) => h.name === leader)!);
        return v && v.voters.length === 5 && v.voters.includes('h6') && !v.voters.includes(victim.name) ? v : undefined;
      }, 60_000);
      assert.equal(view.voters.length, 5);
      await waitForLeader(all.filter((h) => h !== victim), 5);
    } finally {
      await victim.heal();
    }
  });
});
