// Restart, tombstones and the replication seams of the Automerge store.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Conflict, Gone } from '../../../src/agent/api/errors.ts';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createAutomergeStore, type AutomergeObjectStore } from '../../../src/agent/store/automerge-store.ts';
import type { StoreEvent } from '../../../src/agent/store/object-store.ts';
import type { LocalChange } from '../../../src/agent/store/replication-seam.ts';
import { makePod } from './pod-fixture.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function newDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mesh-store-'));
  dirs.push(d);
  return d;
}

async function open(dataDir: string, agentId = 'agent-a'): Promise<AutomergeObjectStore> {
  const s = createAutomergeStore({ dataDir, agentId, logger: silentLogger(), docCacheSize: 4 });
  await s.start();
  return s;
}

type PodLike = KubeObject & { spec: { containers: { image: string }[] }; status?: { phase?: string } };

describe('automerge store: restart', () => {
  it('preserves objects and resourceVersion; new writes get higher ones', async () => {
    const dir = await newDir();
    let s = await open(dir);
    const kept: KubeObject[] = [];
    for (let i = 0; i < 30; i++) kept.push(await s.create('pods', makePod(`p${i}`, `ns${i % 2}`)));
    kept[3] = await s.update('pods', { ...kept[3], status: { phase: 'Running' } });
    await s.delete('pods', kept[4].metadata.namespace!, 'p4');
    const deleted = kept.splice(4, 1)[0];
    const rvBefore = s.currentResourceVersion();
    await s.stop();

    s = await open(dir);
    assert.equal(s.currentResourceVersion(), rvBefore);
    for (const o of kept) assert.deepEqual(s.get('pods', o.metadata.namespace!, o.metadata.name!), o);
    assert.equal(s.get('pods', deleted.metadata.namespace!, 'p4'), undefined);
    assert.equal(s.list('pods').items.length, 29);
    assert.equal(s.list('pods', 'ns0').items.length, 14);
    assert.equal(s.list('pods').resourceVersion, rvBefore);

    // History starts empty: a watch from now works, older ones are Gone.
    const events: StoreEvent[] = [];
    const stop = s.watch({ sinceResourceVersion: rvBefore }, (e) => events.push(e));
    assert.throws(() => s.watch({ sinceResourceVersion: String(Number(rvBefore) - 1) }, () => {}), Gone);

    const upd = await s.update('pods', { ...kept[0], status: { phase: 'Succeeded' } });
    const created = await s.create('pods', makePod('after-restart'));
    stop();
    assert.ok(Number(upd.metadata.resourceVersion) > Number(rvBefore));
    assert.ok(Number(created.metadata.resourceVersion) > Number(upd.metadata.resourceVersion));
    assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), [['MODIFIED', 'p0'], ['ADDED', 'after-restart']]);
    // Updates after a restart go through the reloaded doc (cache size 4 forces reloads).
    for (const o of kept.slice(5, 15)) await s.update('pods', { ...o, metadata: { ...o.metadata, labels: { reloaded: 'yes' } } });
    await s.stop();

    s = await open(dir);
    assert.deepEqual(s.get('pods', kept[7].metadata.namespace!, kept[7].metadata.name!)!.metadata.labels, { reloaded: 'yes' });
    assert.equal(s.get('pods', 'default', 'after-restart')!.metadata.uid, created.metadata.uid);
    await s.stop();
  });

  it('refuses to reuse the uid of a deleted incarnation', async () => {
    const s = await open(await newDir());
    const pod = makePod('tomb');
    await s.create('pods', pod);
    await s.delete('pods', 'default', 'tomb');
    await assert.rejects(s.create('pods', pod), Conflict);
    const fresh = await s.create('pods', makePod('tomb'));
    assert.notEqual(fresh.metadata.uid, pod.metadata.uid);
    await s.stop();
  });
});

describe('automerge store: replication seams', () => {
  /** Two agents; everything `a` writes is carried to `b` by hand (the seam gossip will use). */
  async function pair() {
    const a = await open(await newDir(), 'agent-a');
    const b = await open(await newDir(), 'agent-b');
    const fromA: LocalChange[] = [];
    const fromB: LocalChange[] = [];
    a.onLocalChange((c) => fromA.push(c));
    b.onLocalChange((c) => fromB.push(c));
    async function deliver(list: LocalChange[], to: AutomergeObjectStore) {
      const results = [];
      for (const c of list.splice(0)) results.push(await to.applyRemoteChanges({ ...c, changes: [c.change] }));
      return results;
    }
    return { a, b, fromA, fromB, deliver };
  }

  it('emits one change per durable local write and none for a no-op', async () => {
    const { a, b, fromA } = await pair();
    const p = await a.create('pods', makePod('x'));
    await a.update('pods', p);
    await a.update('pods', { ...p, status: { phase: 'Running' } });
    await a.delete('pods', 'default', 'x');
    assert.equal(fromA.length, 3);
    assert.ok(fromA.every((c) => c.uid === p.metadata.uid && c.change.length > 0));
    // A small update is a small message (a per-field diff, not the whole object).
    assert.ok(fromA[1].change.length < fromA[0].change.length / 2, `update ${fromA[1].change.length} B vs create ${fromA[0].change.length} B`);
    await a.stop();
    await b.stop();
  });

  it('applies remote creates, updates and deletes with local resourceVersions and events', async () => {
    const { a, b, fromA, deliver } = await pair();
    await b.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'local', namespace: 'default', uid: randomUUID() } });
    const events: StoreEvent[] = [];
    b.watch({ resource: 'pods' }, (e) => events.push(e));
    const p = await a.create('pods', makePod('r'));
    assert.deepEqual(await deliver(fromA, b), ['applied']);
    const onB = b.get('pods', 'default', 'r')!;
    assert.deepEqual({ ...onB, metadata: { ...onB.metadata, resourceVersion: undefined } }, { ...p, metadata: { ...p.metadata, resourceVersion: undefined } });
    assert.equal(onB.metadata.resourceVersion, b.currentResourceVersion());

    await a.update('pods', { ...p, status: { phase: 'Running' } });
    await a.delete('pods', 'default', 'r');
    assert.deepEqual(await deliver(fromA, b), ['applied', 'applied']);
    assert.equal(b.get('pods', 'default', 'r'), undefined);
    assert.deepEqual(events.map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED']);
    assert.equal((events[1].object as PodLike).status?.phase, 'Running');
    // Redelivery is harmless.
    const again = await b.applyRemoteChanges({ resource: 'pods', namespace: 'default', name: 'r', uid: p.metadata.uid!, changes: [] });
    assert.equal(again, 'unchanged');
    await a.stop();
    await b.stop();
  });

  it('merges concurrent edits of different fields; a delete wins and never resurrects', async () => {
    const { a, b, fromA, fromB, deliver } = await pair();
    const p = (await a.create('pods', makePod('m'))) as PodLike;
    await deliver(fromA, b);
    // Concurrent: a changes the image, b the status and a label.
    const onA = structuredClone(p);
    onA.spec.containers[0].image = 'nginx:9';
    await a.update('pods', onA);
    const onB = structuredClone(b.get('pods', 'default', 'm')!) as PodLike;
    onB.status = { phase: 'Running' };
    onB.metadata.labels = { ...onB.metadata.labels, seen: 'b' };
    await b.update('pods', onB);
    await deliver(fromA, b);
    await deliver(fromB, a);
    for (const s of [a, b]) {
      const got = s.get('pods', 'default', 'm') as PodLike;
      assert.equal(got.spec.containers[0].image, 'nginx:9');
      assert.equal(got.status?.phase, 'Running');
      assert.equal(got.metadata.labels?.seen, 'b');
    }
    assert.deepEqual(a.exportDoc(p.metadata.uid!) !== undefined, true);

    // Concurrent delete on a and update on b: after exchange, both have it deleted.
    await a.delete('pods', 'default', 'm');
    await b.update('pods', { ...b.get('pods', 'default', 'm')!, status: { phase: 'Failed' } });
    assert.deepEqual(await deliver(fromA, b), ['applied']);
    assert.deepEqual(await deliver(fromB, a), ['tombstoned']);
    assert.equal(a.get('pods', 'default', 'm'), undefined);
    assert.equal(b.get('pods', 'default', 'm'), undefined);
    await a.stop();
    await b.stop();
  });

  it('concurrent creates of one name: the greater (create HLC, uid) wins on both agents', async () => {
    const { a, b, fromA, fromB, deliver } = await pair();
    const onA = await a.create('pods', makePod('same'));
    const onB = await b.create('pods', makePod('same'));
    const events: StoreEvent[] = [];
    a.watch({}, (e) => events.push(e));
    b.watch({}, (e) => events.push(e));
    const resA = await deliver(fromA, b);
    const resB = await deliver(fromB, a);
    const ia = a.incarnation(onA.metadata.uid!)!;
    const ib = b.incarnation(onB.metadata.uid!)!;
    const aWins = ia.created !== ib.created ? ia.created > ib.created : ia.uid > ib.uid;
    const winner = aWins ? onA : onB;
    const loser = aWins ? onB : onA;
    for (const s of [a, b]) {
      assert.equal(s.get('pods', 'default', 'same')!.metadata.uid, winner.metadata.uid);
      assert.equal(s.incarnation(loser.metadata.uid!)!.live, false);
      assert.equal(s.incarnation(winner.metadata.uid!)!.live, true);
    }
    // Where the loser was live it is DELETED and the winner ADDED; elsewhere nothing happens.
    assert.deepEqual(aWins ? [resA, resB] : [resB, resA], [['applied'], ['superseded']]);
    assert.deepEqual(
      events.map((e) => [e.type, e.object.metadata.uid]),
      [['DELETED', loser.metadata.uid], ['ADDED', winner.metadata.uid]],
    );
    // A re-create after deleting the winner gets a later HLC than both, so it holds the name everywhere.
    await a.delete('pods', 'default', 'same');
    const again = await a.create('pods', makePod('same'));
    await deliver(fromA, b);
    assert.equal(b.get('pods', 'default', 'same')!.metadata.uid, again.metadata.uid);
    assert.ok(a.incarnation(again.metadata.uid!)!.created > a.incarnation(winner.metadata.uid!)!.created);
    await a.stop();
    await b.stop();
  });
});
