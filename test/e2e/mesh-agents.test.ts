// Several real agents on loopback, joined into one mesh over real libp2p:
// replication, scheduling across nodes, logs through any agent, failure
// detection, catching up after kill -9, a refused bad token, and leave.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kubectl, mesh, startAgentProcess, waitFor, type AgentProcess } from '../support/agent-process.ts';

const IMAGE = 'mesh.local/busybox:latest';
const CMS = '/api/v1/namespaces/default/configmaps';

function readyOf(node: any): string | undefined {
  return node?.status?.conditions?.find((c: any) => c.type === 'Ready')?.status;
}

describe('a mesh of agents on loopback', () => {
  let a: AgentProcess;
  let b: AgentProcess;
  let c: AgentProcess;

  before(async () => {
    a = await startAgentProcess({ prefix: 'mesh-a' });
    b = await startAgentProcess({ prefix: 'mesh-b', joinVia: a });
    // c only knows b: it learns a from the mesh.
    c = await startAgentProcess({ prefix: 'mesh-c', joinVia: b });
  });
  after(async () => {
    await Promise.all([c?.destroy(), b?.destroy(), a?.destroy()]);
  });

  it('every agent sees every node, and a write on one is readable on the others', async () => {
    for (const agent of [a, b, c]) {
      await waitFor(`3 nodes on ${agent.nodeName}`, async () => {
        const r = await agent.api('GET', '/api/v1/nodes');
        return r.body.items?.length === 3 && r.body.items.every((n: any) => readyOf(n) === 'True');
      });
    }
    const created = await a.api('POST', CMS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'from-a' }, data: { k: 'v' } });
    assert.equal(created.status, 201);
    const seen = await waitFor('from-a on c', async () => {
      const r = await c.api('GET', `${CMS}/from-a`);
      return r.status === 200 && r.body;
    }, 10_000);
    assert.deepEqual(seen.data, { k: 'v' });
    assert.equal(seen.metadata.uid, created.body.metadata.uid);
    // kubectl against the third agent reads it too.
    const k = await kubectl(c, ['get', 'configmap', 'from-a', '-o', 'jsonpath={.data.k}']);
    assert.equal(k.stdout, 'v', k.stderr);
  });

  it('mesh status lists the peers with their contact and lag', async () => {
    // c joined through b; a hears of it through the mesh a moment later.
    const r = await waitFor('all members alive on a', async () => {
      const r = await mesh(a, ['status']);
      return r.code === 0 && [a, b, c].every((x) => new RegExp(`${x.nodeName}.*alive`).test(r.stdout)) && r;
    }, 10_000);
    const lines = r.stdout.split('\n');
    assert.match(lines[1]!, new RegExp(`^Raft: term \\d+, leader ${a.nodeName}; voters `));
    assert.match(lines.find((l) => l.startsWith('NODE')) ?? '', /NODE\s+STATUS\s+RAFT\s+ADDRESS\s+LAST CONTACT\s+BEHIND/);
  });

  it('spreads pods over the nodes and serves their logs from any agent', async () => {
    const names = ['spread-1', 'spread-2', 'spread-3'];
    for (const name of names) {
      const pod = {
        apiVersion: 'v1', kind: 'Pod', metadata: { name },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [{ name: 'c', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', `echo hello from ${name}; sleep 3600`] }],
        },
      };
      assert.equal((await b.api('POST', '/api/v1/namespaces/default/pods', pod)).status, 201);
    }
    const pods = await waitFor('3 running pods', async () => {
      const r = await c.api('GET', '/api/v1/namespaces/default/pods');
      const items = (r.body.items ?? []).filter((p: any) => names.includes(p.metadata.name));
      return items.length === 3 && items.every((p: any) => p.status?.phase === 'Running') && items;
    }, 60_000);
    const nodes = new Set(pods.map((p: any) => p.spec.nodeName));
    assert.equal(nodes.size, 3, `one pod per node: ${[...nodes]}`);
    for (const p of pods) {
      const logs = await waitFor(`logs of ${p.metadata.name} via a`, async () => {
        const r = await a.api('GET', `/api/v1/namespaces/default/pods/${p.metadata.name}/log`);
        return r.status === 200 && typeof r.body === 'string' && r.body.includes(`hello from ${p.metadata.name}`) && r.body;
      }, 15_000);
      assert.match(logs, /hello from/);
    }
  });

  it('marks a node that stops answering NotReady within 5 s, and Ready when it is back', async () => {
    // Marking is leader-only work: it needs a quorum after b is gone, so a group of 3 voters.
    await waitFor('3 Raft voters', async () => (await a.api('GET', '/mesh/v1/status')).body.raft?.voters?.length === 3, 30_000);
    await b.kill9();
    const killedAt = Date.now();
    await waitFor('b NotReady on a', async () => readyOf((await a.api('GET', `/api/v1/nodes/${b.nodeName}`)).body) === 'Unknown', 10_000).catch(
      (err: Error) => {
        const raft = (o: AgentProcess) => o.output().split('\n').filter((l) => /raft|lead|node-lifecycle|membership/.test(l)).slice(-15).join('\n');
        throw new Error(`${err.message}\n--- a ---\n${raft(a)}\n--- c ---\n${raft(c)}`);
      },
    );
    const took = Date.now() - killedAt;
    assert.ok(took <= 5_500, `NotReady after ${took} ms`);

    // While b is down the others keep taking writes; b catches up when it returns.
    assert.equal((await c.api('POST', CMS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'while-b-down' }, data: { x: '1' } })).status, 201);
    await b.restart();
    await waitFor('b Ready again on a', async () => readyOf((await a.api('GET', `/api/v1/nodes/${b.nodeName}`)).body) === 'True', 15_000);
    const caught = await waitFor('b caught up', async () => {
      const r = await b.api('GET', `${CMS}/while-b-down`);
      return r.status === 200 && r.body;
    }, 15_000);
    assert.equal(caught.data.x, '1');
  });

  it('refuses a join with a wrong token', async () => {
    const real = (await readFile(join(a.dataDir, 'join-token'), 'utf8')).trim();
    const [prefix, psk, hash] = real.split('.');
    const wrongHash = `${prefix}.${psk}.${'0'.repeat(hash!.length)}`;
    await assert.rejects(startAgentProcess({ prefix: 'mesh-bad', joinVia: a, token: wrongHash }), /CA|refus/i);
    const wrongKey = `${prefix}.${Buffer.alloc(32, 7).toString('base64url')}.${hash}`;
    await assert.rejects(startAgentProcess({ prefix: 'mesh-bad', joinVia: a, token: wrongKey }), /cannot reach|token/i);
    const nodes = (await a.api('GET', '/api/v1/nodes')).body.items.map((n: any) => n.metadata.name);
    assert.equal(nodes.filter((n: string) => n.startsWith('mesh-bad')).length, 0);
  });

  it('mesh leave removes the node cleanly', async () => {
    const r = await mesh(c, ['leave']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`node "${c.nodeName}" left the cluster`));
    await waitFor('c gone from a', async () => (await a.api('GET', `/api/v1/nodes/${c.nodeName}`)).status === 404, 15_000);
    const status = await mesh(a, ['status']);
    assert.match(status.stdout, new RegExp(`${c.nodeName}\\s+left`));
  });
});
