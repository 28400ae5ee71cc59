import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createRegistry, type Registry } from '../../../src/agent/api/registry.ts';
import { ApiError } from '../../../src/agent/api/errors.ts';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import type { ObjectStore, StoreEvent } from '../../../src/agent/store/object-store.ts';
import { createSecretBackend, SEALED_ANNOTATION, SEALED_VERSION_ANNOTATION } from '../../../src/agent/api/secret-backend.ts';
import { createClusterFsm, type ClusterFsm } from '../../../src/consensus/cluster-fsm.ts';
import { createSecretSealer } from '../../../src/consensus/secret-crypto.ts';
import { createSecretReader } from '../../../src/consensus/secret-reader.ts';
import { createSecretRequestHandler } from '../../../src/consensus/secret-requests.ts';
import { createMemoryRaftNetwork, type MemoryRaftNetwork } from '../../../src/consensus/memory-raft-transport.ts';
import { createApiServer } from '../../../src/agent/api/server.ts';
import { ensurePki } from '../../../src/agent/api/pki.ts';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import { createFakeRaftNode, type FakeRaftNode } from '../../support/fake-raft-node.ts';
import { call, openWatch, type Harness } from './server-harness.ts';

const PLAIN = 'correct-horse-battery-staple';
const PLAIN_B64 = Buffer.from(PLAIN).toString('base64');
const OTHER = 'tr0ub4dor-and-3';
const OTHER_B64 = Buffer.from(OTHER).toString('base64');
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Agent {
  name: string;
  store: ObjectStore;
  registry: Registry;
  raft: FakeRaftNode;
  events: StoreEvent[];
}

interface Cluster {
  fsm: ClusterFsm;
  net: MemoryRaftNetwork;
  psk: Uint8Array;
  leader: Agent;
  /** Another agent: a Raft member when inGroup, else a plain member that asks the leader. */
  agent(name: string, inGroup: boolean): Promise<Agent>;
}

async function cluster(): Promise<Cluster> {
  const fsm = createClusterFsm();
  const net = createMemoryRaftNetwork();
  const psk = new Uint8Array(randomBytes(32));
  const sealer = createSecretSealer(psk);

  async function agent(name: string, inGroup: boolean, leading: boolean): Promise<Agent> {
    const raft = createFakeRaftNode({ fsm, id: name, leading, inGroup });
    if (!leading) raft.setLeader('leader');
    const transport = net.transport(name);
    const store = createMemoryStore();
    await store.start();
    const events: StoreEvent[] = [];
    store.watch({}, (e) => events.push(structuredClone(e)));
    const reader = createSecretReader({ raftNode: raft, fsm, transport, sealer });
    const registry = createRegistry({ store, logger: silentLogger(), secrets: createSecretBackend({ raftNode: raft, sealer, reader, logger: silentLogger() }) });
    transport.onRequest(
      createSecretRequestHandler({ raftNode: raft, fsm, pods: () => registry.list<Pod>('pods').items, logger: silentLogger() }),
    );
    await registry.ensureDefaultNamespaces();
    return { name, store, registry, raft, events };
  }
  const leader = await agent('leader', true, true);
  return { fsm, net, psk, leader, agent: (name, inGroup) => agent(name, inGroup, false) };
}

function secret(name: string, data: Record<string, string> = { password: PLAIN_B64 }, extra: Partial<KubeObject> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, data, ...extra };
}

/** Everything at rest or on the wire of the store: every stored object and every watch event, as JSON. */
function storeText(a: Agent): string {
  const objects = ['secrets', 'namespaces'].flatMap((r) => a.store.list(r).items);
  return JSON.stringify(objects) + JSON.stringify(a.events);
}

function assertNoPlaintext(c: Cluster, a: Agent, ...values: string[]): void {
  const text = storeText(a);
  const log = JSON.stringify(a.raft.proposals) + c.fsm.snapshot();
  for (const v of values) {
    assert.ok(!text.includes(v), `the store holds ${v}`);
    assert.ok(!log.includes(v), `the Raft log or snapshot holds ${v}`);
  }
}

async function rejects(p: Promise<unknown>, code: number, message?: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected an ApiError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return;
  }
  assert.fail(`expected a ${code}`);
}

async function revealed(r: Registry, name: string): Promise<KubeObject> {
  const [obj] = await r.reveal('secrets', [r.get('secrets', 'default', name)!]);
  return obj!;
}

describe('Secrets through Raft (registry)', () => {
  it('create keeps the values out of the store and the log; reads put them back', async () => {
    const c = await cluster();
    const { registry } = c.leader;
    const created = await registry.create('secrets', secret('db', { password: PLAIN_B64, user: b64('admin') }));
    assert.deepEqual(created.data, { password: PLAIN_B64, user: b64('admin') });
    assert.equal(created.metadata.annotations, undefined, 'clients do not see the sealing marks');
    const shell = registry.get('secrets', 'default', 'db')!;
    assert.deepEqual(shell.data, { password: '', user: '' }, 'the store keeps the keys only');
    assert.equal(shell.metadata.annotations?.[SEALED_ANNOTATION], 'raft');
    assertNoPlaintext(c, c.leader, PLAIN, PLAIN_B64, b64('admin'));
    const got = await revealed(registry, 'db');
    assert.deepEqual(got.data, { password: PLAIN_B64, user: b64('admin') });
    assert.equal(got.metadata.resourceVersion, shell.metadata.resourceVersion);
    assert.equal(got.metadata.uid, created.metadata.uid);
  });

  it('lists with values, and stringData lands in data without reaching the store', async () => {
    const c = await cluster();
    const { registry } = c.leader;
    await registry.create('secrets', secret('a'));
    await registry.create('secrets', { ...secret('b', {}), stringData: { token: OTHER } });
    const items = await registry.reveal('secrets', registry.list('secrets', { namespace: 'default' }).items);
    const byName = Object.fromEntries(items.map((i) => [i.metadata.name, i.data]));
    assert.deepEqual(byName, { a: { password: PLAIN_B64 }, b: { token: OTHER_B64 } });
    assert.ok(items.every((i) => !('stringData' in i)));
    assertNoPlaintext(c, c.leader, PLAIN, PLAIN_B64, OTHER, OTHER_B64);
  });

  it("keeps kubectl apply's last-applied manifest without its values", async () => {
    const c = await cluster();
    const { registry } = c.leader;
    const manifest = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'applied', namespace: 'default' }, stringData: { pw: OTHER }, data: { k: PLAIN_B64 } };
    const created = await registry.create<KubeObject>('secrets', {
      ...secret('applied', { k: PLAIN_B64 }),
      stringData: { pw: OTHER },
      metadata: { name: 'applied', namespace: 'default', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(manifest) } },
    });
    assert.deepEqual(created.data, { k: PLAIN_B64, pw: OTHER_B64 });
    assertNoPlaintext(c, c.leader, PLAIN, PLAIN_B64, OTHER, OTHER_B64);
    const applied = JSON.parse((await revealed(registry, 'applied')).metadata.annotations!['kubectl.kubernetes.io/last-applied-configuration']!);
    assert.deepEqual(applied, { ...manifest, data: { k: '' }, stringData: { pw: '' } });
  });

  it('updates values (a new shell version, a MODIFIED event) and skips no-op updates', async () => {
    const c = await cluster();
    const { registry } = c.leader;
    await registry.create('secrets', secret('s'));
    const before = registry.get('secrets', 'default', 's')!;
    const current = await revealed(registry, 's');
    assert.equal(await registry.update('secrets', current).then((o) => o.metadata.resourceVersion), current.metadata.resourceVersion, 'no-op');
    const updated = await registry.update('secrets', { ...current, data: { password: OTHER_B64 } });
    assert.deepEqual(updated.data, { password: OTHER_B64 });
    const after = registry.get('secrets', 'default', 's')!;
    assert.notEqual(after.metadata.resourceVersion, before.metadata.resourceVersion);
    assert.notEqual(after.metadata.annotations?.[SEALED_VERSION_ANNOTATION], before.metadata.annotations?.[SEALED_VERSION_ANNOTATION]);
    assert.ok(c.leader.events.some((e) => e.type === 'MODIFIED' && e.object.metadata.name === 's'));
    assert.deepEqual((await revealed(registry, 's')).data, { password: OTHER_B64 });
    assertNoPlaintext(c, c.leader, PLAIN, PLAIN_B64, OTHER, OTHER_B64);
    // A stale resourceVersion is a conflict, as for any object.
    await rejects(registry.update('secrets', { ...current, data: { password: PLAIN_B64 } }), 409);
  });

  it('an in-process update of the shell (labels) keeps the values', async () => {
    const c = await cluster();
    const { registry } = c.leader;
    await registry.create('secrets', secret('s'));
    const shell = registry.get('secrets', 'default', 's')!;
    await registry.update('secrets', { ...shell, metadata: { ...shell.metadata, labels: { team: 'db' } } });
    const got = await revealed(registry, 's');
    assert.deepEqual(got.data, { password: PLAIN_B64 });
    assert.deepEqual(got.metadata.labels, { team: 'db' });
  });

  it('checks immutable secrets against the values in Raft', async () => {
    const c = await cluster();
    const { registry } = c.leader;
    await registry.create('secrets', secret('frozen', { password: PLAIN_B64 }, { immutable: true }));
    const current = await revealed(registry, 'frozen');
    await rejects(registry.update('secrets', { ...current, data: { password: OTHER_B64 } }), 422, /immutable/);
    const labelled = await registry.update<KubeObject>('secrets', { ...current, metadata: { ...current.metadata, labels: { a: 'b' } } });
    assert.deepEqual(labelled.data, { password: PLAIN_B64 });
  });

  it('delete removes the values from the FSM and the shell from the store', async () => {
    const c = await cluster();
    const { registry } = c.leader;
    await registry.create('secrets', secret('gone'));
    assert.ok(c.fsm.secret('default', 'gone'));
    await registry.delete('secrets', 'default', 'gone');
    assert.equal(c.fsm.secret('default', 'gone'), undefined);
    assert.equal(registry.get('secrets', 'default', 'gone'), undefined);
    // The name is free again.
    const again = await registry.create('secrets', secret('gone', { password: OTHER_B64 }));
    assert.deepEqual((await revealed(registry, 'gone')).data, { password: OTHER_B64 });
    assert.equal(c.fsm.secret('default', 'gone')?.uid, again.metadata.uid);
  });

  it('without the Raft quorum: writes and value reads are 503 and change nothing; key-only reads work', async () => {
    const c = await cluster();
    const { registry, raft } = c.leader;
    await registry.create('secrets', secret('s'));
    const current = await revealed(registry, 's');
    const rvBefore = registry.currentResourceVersion();
    raft.setQuorum(false);
    await rejects(registry.create('secrets', secret('new')), 503, /secrets need the Raft quorum/);
    await rejects(registry.update('secrets', { ...current, data: { password: OTHER_B64 } }), 503, /secrets need the Raft quorum/);
    await rejects(registry.delete('secrets', 'default', 's'), 503, /secrets need the Raft quorum/);
    await rejects(registry.reveal('secrets', [registry.get('secrets', 'default', 's')!]), 503, /secrets need the Raft quorum/);
    assert.equal(registry.currentResourceVersion(), rvBefore, 'nothing was written');
    assert.equal(registry.get('secrets', 'default', 'new'), undefined);
    const [keys] = await registry.reveal('secrets', [registry.get('secrets', 'default', 's')!], { keysOnly: true });
    assert.deepEqual(keys!.data, { password: '' });
    // Other resources do not need the quorum.
    await registry.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'default' }, data: {} });
    raft.setQuorum(true);
    assert.deepEqual((await revealed(registry, 's')).data, { password: PLAIN_B64 });
  });

  it('a second agent whose store has not seen the secret yet cannot create it again', async () => {
    const c = await cluster();
    await c.leader.registry.create('secrets', secret('s'));
    const other = await c.agent('other', true);
    await rejects(other.registry.create('secrets', secret('s', { password: OTHER_B64 })), 409, /already exists/);
    assert.equal(other.registry.get('secrets', 'default', 's'), undefined);
    assert.deepEqual((await revealed(c.leader.registry, 's')).data, { password: PLAIN_B64 });
  });

  it('a plain member reads values through the leader (secret-get) and writes through Raft', async () => {
    const c = await cluster();
    const plain = await c.agent('plain', false);
    const created = await plain.registry.create('secrets', secret('p', { k: OTHER_B64 }));
    assert.deepEqual((await revealed(plain.registry, 'p')).data, { k: OTHER_B64 });
    assert.equal(c.fsm.secret('default', 'p')?.uid, created.metadata.uid);
    assertNoPlaintext(c, plain, OTHER, OTHER_B64);
    plain.raft.setLeader(undefined);
    await rejects(revealed(plain.registry, 'p'), 503, /secrets need the Raft quorum/);
  });
});

describe('Secrets through Raft (HTTP)', () => {
  async function serve(c: Cluster): Promise<Harness & { dispose(): Promise<void> }> {
    const dir = await mkdtemp(join(tmpdir(), 'mesh-secret-api-'));
    const pki = await ensurePki(join(dir, 'pki'));
    const server = createApiServer({
      registry: c.leader.registry,
      tls: { caCertPem: pki.caCertPem, serverCertPem: pki.serverCertPem, serverKeyPem: pki.serverKeyPem },
      adminToken: pki.adminToken,
      host: '127.0.0.1',
      port: 0,
      logger: silentLogger(),
    });
    await server.start();
    const close = async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    };
    return { server, registry: c.leader.registry, pki, dir, close, dispose: close };
  }

  it('GET, list, patch and watch carry the values; tables work without the quorum; GET is 503 without it', async () => {
    const c = await cluster();
    const h = await serve(c);
    try {
      const base = '/api/v1/namespaces/default/secrets';
      const watch = await openWatch(h, `${base}?watch=true`);
      const created = await call(h, base, { method: 'POST', body: secret('web', { password: PLAIN_B64 }) });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.json.data, { password: PLAIN_B64 });
      const [added] = await watch.next(1);
      assert.equal(added.type, 'ADDED');
      assert.deepEqual(added.object.data, { password: PLAIN_B64 });
      assert.equal(added.object.metadata.annotations, undefined);

      const got = await call(h, `${base}/web`);
      assert.deepEqual(got.json.data, { password: PLAIN_B64 });
      const list = await call(h, base);
      assert.deepEqual(list.json.items.map((i: KubeObject) => i.data), [{ password: PLAIN_B64 }]);

      const patched = await call(h, `${base}/web`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/strategic-merge-patch+json' },
        body: { stringData: { extra: OTHER } },
      });
      assert.equal(patched.status, 200, patched.text);
      assert.deepEqual(patched.json.data, { password: PLAIN_B64, extra: OTHER_B64 }, 'the patch merged onto the real values');
      const [modified] = await watch.next(1);
      assert.equal(modified.type, 'MODIFIED');
      assert.deepEqual(modified.object.data, { password: PLAIN_B64, extra: OTHER_B64 });
      watch.close();
      assertNoPlaintext(c, c.leader, PLAIN, PLAIN_B64, OTHER, OTHER_B64);

      c.leader.raft.setQuorum(false);
      const table = await call(h, base, { headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } });
      assert.equal(table.status, 200, table.text);
      assert.equal(table.json.rows[0].cells[2], 2, 'the DATA column counts the keys');
      const refused = await call(h, `${base}/web`);
      assert.equal(refused.status, 503);
      assert.match(refused.json.message, /secrets need the Raft quorum/);
      const watchNoQuorum = await openWatch(h, `${base}?watch=true`);
      const [error] = await watchNoQuorum.next(1);
      assert.equal(error.type, 'ERROR');
      assert.equal(error.object.code, 503);
      await watchNoQuorum.ended;
    } finally {
      await h.dispose();
    }
  });
});
