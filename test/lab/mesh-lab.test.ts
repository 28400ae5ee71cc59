// Replication across lab hosts: a write on one agent is served by every other,
// both sides of a partition accept writes and converge after the heal, an agent
// killed with -9 catches up after a restart, and a bad join token is refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MESH_BIN, removeNodeContainers, waitFor } from '../support/agent-process.ts';
import { LAB_GATEWAY, agentLogTail, labDown, labUp, runCommand, type LabHost } from '../support/lab.ts';

const CMS = '/api/v1/namespaces/default/configmaps';
const CONVERGE_MS = 20_000;
const run = Math.random().toString(36).slice(2, 7);

function configMap(name: string, data: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data };
}

async function getData(h: LabHost, name: string): Promise<Record<string, string> | undefined> {
  const r = await h.api('GET', `${CMS}/${name}`);
  return r.status === 200 ? (r.body.data ?? {}) : undefined;
}

async function create(h: LabHost, name: string, data: Record<string, string>): Promise<void> {
  const r = await h.api('POST', CMS, configMap(name, data));
  assert.equal(r.status, 201, `create ${name} on ${h.name}: ${JSON.stringify(r.body)}`);
}

async function patchData(h: LabHost, name: string, data: Record<string, string>): Promise<void> {
  const r = await h.api('PATCH', `${CMS}/${name}`, { data }, 'application/merge-patch+json');
  assert.equal(r.status, 200, `patch ${name} on ${h.name}: ${JSON.stringify(r.body)}`);
}

/** Waits until host h serves ConfigMap name with at least the given data. */
async function seen(h: LabHost, name: string, want: Record<string, string>): Promise<void> {
  try {
    await waitFor(
      `${name} with ${JSON.stringify(want)} on ${h.name}`,
      async () => {
        const data = await getData(h, name);
        return data !== undefined && Object.entries(want).every(([k, v]) => data[k] === v);
      },
      CONVERGE_MS,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- ${h.name} agent log ---\n${await agentLogTail(h)}`);
  }
}

describe('mesh across lab hosts', () => {
  let hosts: LabHost[] = [];

  before(async () => {
    hosts = await labUp(3);
  });
  after(async () => {
    await labDown();
  });

  it('every host sees all three nodes', async () => {
    for (const h of hosts) {
      await waitFor(
        `${h.name} to list nodes h1, h2, h3`,
        async () => {
          const r = await h.api('GET', '/api/v1/nodes');
          const names = r.status === 200 ? (r.body.items as { metadata: { name: string } }[]).map((n) => n.metadata.name) : [];
          return ['h1', 'h2', 'h3'].every((n) => names.includes(n));
        },
        CONVERGE_MS,
      );
    }
  });

  it('a ConfigMap written on h1 is readable on h3, through the API and kubectl', async () => {
    const [h1, , h3] = hosts as [LabHost, LabHost, LabHost];
    const name = `from-h1-${run}`;
    await create(h1, name, { written: 'on-h1' });
    await seen(h3, name, { written: 'on-h1' });
    const r = await h3.kubectl(['get', 'configmap', name, '-o', 'jsonpath={.data.written}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'on-h1');
  });

  it('with h3 cut off both sides accept writes, and after the heal every host holds both', async () => {
    const [h1, h2, h3] = hosts as [LabHost, LabHost, LabHost];
    const shared = `shared-${run}`;
    const left = `left-${run}`;
    const right = `right-${run}`;
    await create(h1, shared, { base: 'yes' });
    await seen(h3, shared, { base: 'yes' });

    await h3.cut();
    try {
      await create(h1, left, { side: 'h1' });
      await create(h3, right, { side: 'h3' });
      // Different keys of one object, one on each side: both must survive.
      await patchData(h1, shared, { a: 'from-h1' });
      await patchData(h3, shared, { b: 'from-h3' });
      assert.equal(await getData(h3, left), undefined, 'h3 saw a write made after it was cut off: the cut does not cut');
      assert.equal(await getData(h1, right), undefined, 'h1 saw a write made on the cut h3');
      await seen(h2, left, { side: 'h1' }); // the majority side still replicates
    } finally {
      await h3.heal();
    }

    for (const h of hosts) {
      await seen(h, left, { side: 'h1' });
      await seen(h, right, { side: 'h3' });
      await seen(h, shared, { base: 'yes', a: 'from-h1', b: 'from-h3' });
    }
  });

  it('marks a cut-off host NotReady within 5 s, and Ready again after the heal', async () => {
    const [h1, , h3] = hosts as [LabHost, LabHost, LabHost];
    const ready = async (h: LabHost, node: string) => {
      const r = await h.api('GET', `/api/v1/nodes/${node}`);
      return (r.body?.status?.conditions as { type: string; status: string }[] | undefined)?.find((c) => c.type === 'Ready')?.status;
    };
    await waitFor('h3 Ready on h1 before the cut', async () => (await ready(h1, 'h3')) === 'True', CONVERGE_MS);
    await h3.cut();
    const cutAt = Date.now();
    try {
      await waitFor('h3 NotReady on h1', async () => (await ready(h1, 'h3')) === 'Unknown', 10_000);
      const took = Date.now() - cutAt;
      assert.ok(took <= 5_500, `h3 was marked NotReady ${took} ms after the cut`);
    } finally {
      await h3.heal();
    }
    await waitFor('h3 Ready on h1 after the heal', async () => (await ready(h1, 'h3')) === 'True', CONVERGE_MS);
  });

  it('an agent killed with -9 keeps what it acknowledged and catches up after a restart', async () => {
    const [h1, h2, h3] = hosts as [LabHost, LabHost, LabHost];
    const acked = `acked-by-h2-${run}`;
    await create(h2, acked, { v: '1' });
    await h2.kill9();
    const during1 = `during-kill-h1-${run}`;
    const during3 = `during-kill-h3-${run}`;
    await create(h1, during1, { v: 'h1' });
    await create(h3, during3, { v: 'h3' });
    await assert.rejects(h2.api('GET', `${CMS}/${acked}`), 'h2 answered while its agent was dead');

    await h2.start();
    await seen(h2, acked, { v: '1' });
    await seen(h2, during1, { v: 'h1' });
    await seen(h2, during3, { v: 'h3' });
    for (const h of [h1, h3]) await seen(h, acked, { v: '1' });
  });

  it('refuses a join with a bad token and writes nothing', async () => {
    const [h1] = hosts as [LabHost];
    const good = (await readFile(join(h1.dataDir, 'join-token'), 'utf8')).trim();
    const [prefix, , caHash] = good.split('.');
    const badTokens = {
      'wrong key': `${prefix}.${randomBytes(32).toString('base64url')}.${caHash}`,
      'wrong CA hash': `${good.split('.').slice(0, 2).join('.')}.${randomBytes(32).toString('hex')}`,
    };
    for (const [what, token] of Object.entries(badTokens)) {
      const nodeName = `lab-intruder-${run}`;
      const dataDir = await mkdtemp(join(tmpdir(), 'mesh-lab-intruder-'));
      try {
        // From the root namespace, which reaches h1 over the bridge at the gateway
        // address. Bounded: the join must give up by itself within 60 s.
        const r = await runCommand('timeout', ['-s', 'KILL', '60', MESH_BIN, 'join', `${h1.ip}:7946`, '--token', token,
          '--data-dir', dataDir, '--node-name', nodeName, '--api-host', LAB_GATEWAY, '--listen-address', LAB_GATEWAY,
          '--docker-socket', '/var/run/docker.sock']);
        assert.notEqual(r.code, 0, `join with a ${what} succeeded:\n${r.stdout}${r.stderr}`);
        assert.notEqual(r.code, 137, `join with a ${what} hung for 60 s instead of failing`);
        assert.match(r.stderr + r.stdout, /token/i, `the refusal (${what}) should name the token:\n${r.stderr}`);
        assert.doesNotMatch(r.stderr, /^\s+at /m, 'a refusal is a message, not a stack trace');
        assert.equal(existsSync(join(dataDir, 'pki', 'ca.crt')), false, 'a refused join wrote the CA');
        const nodes = await h1.api('GET', '/api/v1/nodes');
        assert.equal(nodes.status, 200);
        const names = (nodes.body.items as { metadata: { name: string } }[]).map((n) => n.metadata.name);
        assert.ok(!names.includes(nodeName), `${nodeName} became a node with a ${what}`);
      } finally {
        await removeNodeContainers(nodeName);
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  });
});
