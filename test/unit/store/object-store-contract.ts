// The shared contract every ObjectStore implementation must pass. Each
// implementation's test file calls runObjectStoreContract with a factory.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AlreadyExists, Conflict, Gone, NotFound } from '../../../src/agent/api/errors.ts';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import type { ObjectStore, StoreEvent } from '../../../src/agent/store/object-store.ts';
import { makePod } from './pod-fixture.ts';

export interface StoreUnderTest {
  store: ObjectStore;
  cleanup(): Promise<void>;
}

/** Factory options the contract needs: a small history to exercise Gone. */
export interface MakeStoreOptions {
  historyLimit?: number;
}

function withoutRv(o: KubeObject): KubeObject {
  const c = structuredClone(o);
  delete c.metadata.resourceVersion;
  return c;
}

function rvOf(o: KubeObject): number {
  const rv = o.metadata.resourceVersion;
  assert.ok(rv !== undefined && /^\d+$/.test(rv), `resourceVersion "${rv}" is a decimal integer string`);
  return Number(rv);
}

function namespaceObj(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, uid: randomUUID(), creationTimestamp: new Date().toISOString() }, spec: {} };
}

export function runObjectStoreContract(name: string, makeStore: (opts?: MakeStoreOptions) => Promise<StoreUnderTest>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let sut: StoreUnderTest;
    let store: ObjectStore;
    // Each test uses its own namespace, so tests sharing one store stay independent.
    let n = 0;
    const ns = () => `ns-${++n}-${randomUUID().slice(0, 8)}`;

    before(async () => {
      sut = await makeStore();
      store = sut.store;
      await store.start();
    });
    after(async () => {
      await store.stop();
      await sut.cleanup();
    });

    it('creates, gets and sets a resourceVersion', async () => {
      const space = ns();
      const pod = makePod('web-1', space);
      const created = await store.create('pods', pod);
      const rv = rvOf(created);
      assert.deepEqual(withoutRv(created), pod);
      const got = store.get('pods', space, 'web-1');
      assert.ok(got);
      assert.deepEqual(got, created);
      assert.equal(store.currentResourceVersion(), String(rv));
    });

    it('returns undefined for a missing object and keeps resources apart', async () => {
      const space = ns();
      await store.create('pods', makePod('a', space));
      assert.equal(store.get('pods', space, 'missing'), undefined);
      assert.equal(store.get('services', space, 'a'), undefined);
      assert.equal(store.get('pods', 'other-' + space, 'a'), undefined);
    });

    it('stores cluster-scoped objects under the empty namespace', async () => {
      const nsName = ns();
      const created = await store.create('namespaces', namespaceObj(nsName));
      assert.deepEqual(store.get('namespaces', '', nsName), created);
      assert.ok(store.list('namespaces').items.some((o) => o.metadata.name === nsName));
    });

    it('fails with AlreadyExists on a second create', async () => {
      const space = ns();
      await store.create('pods', makePod('dup', space));
      await assert.rejects(store.create('pods', makePod('dup', space)), AlreadyExists);
      // A same-named object of another resource is a different object.
      await store.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dup', namespace: space, uid: randomUUID() }, data: { a: '1' } });
    });

    it('lists by resource and by namespace, with the current resourceVersion', async () => {
      const a = ns();
      const b = ns();
      await store.create('pods', makePod('p1', a));
      await store.create('pods', makePod('p2', a));
      await store.create('pods', makePod('p3', b));
      await store.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1', namespace: a, uid: randomUUID() } });
      const inA = store.list('pods', a);
      assert.deepEqual(inA.items.map((o) => o.metadata.name).sort(), ['p1', 'p2']);
      assert.equal(inA.resourceVersion, store.currentResourceVersion());
      const all = store.list('pods');
      const names = new Set(all.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`));
      for (const want of [`${a}/p1`, `${a}/p2`, `${b}/p3`]) assert.ok(names.has(want), want);
      assert.ok(all.items.every((o) => o.kind === 'Pod'));
      assert.deepEqual(store.list('pods', 'nothing-here-' + a).items, []);
      for (const item of all.items) assert.deepEqual(store.get('pods', item.metadata.namespace ?? '', item.metadata.name!), item);
    });

    it('updates without a precondition and bumps the resourceVersion', async () => {
      const space = ns();
      const created = await store.create('pods', makePod('u', space));
      const next = structuredClone(created);
      (next.spec as { containers: { image: string }[] }).containers[0].image = 'nginx:1.28';
      next.metadata.labels = { app: 'web', version: '2' };
      const updated = await store.update('pods', next);
      assert.ok(rvOf(updated) > rvOf(created));
      assert.deepEqual(withoutRv(updated), withoutRv(next));
      assert.deepEqual(store.get('pods', space, 'u'), updated);
    });

    it('treats an update that changes nothing as a no-op: same resourceVersion, no event', async () => {
      const space = ns();
      const created = await store.create('pods', makePod('noop', space));
      const events: StoreEvent[] = [];
      const stop = store.watch({ namespace: space }, (e) => events.push(e));
      // Same content, keys in another order, stale resourceVersion in the body.
      const same = { ...structuredClone(created), metadata: { ...structuredClone(created.metadata), resourceVersion: '1' } };
      const reordered = Object.fromEntries(Object.entries(same).reverse()) as KubeObject;
      const result = await store.update('pods', reordered);
      stop();
      assert.equal(result.metadata.resourceVersion, created.metadata.resourceVersion);
      assert.deepEqual(result, created);
      assert.deepEqual(events, []);
      assert.equal(store.currentResourceVersion(), created.metadata.resourceVersion);
    });

    it('removes fields that the update leaves out', async () => {
      const space = ns();
      const created = await store.create('pods', makePod('shrink', space));
      const next = structuredClone(created);
      delete next.status;
      delete next.metadata.labels;
      (next.spec as { containers: unknown[] }).containers.pop();
      const updated = await store.update('pods', next);
      assert.equal(updated.status, undefined);
      assert.equal(updated.metadata.labels, undefined);
      assert.deepEqual(store.get('pods', space, 'shrink'), updated);
      assert.equal((store.get('pods', space, 'shrink')!.spec as { containers: unknown[] }).containers.length, 1);
    });

    it('updates with a matching expectedResourceVersion and conflicts on a stale one', async () => {
      const space = ns();
      const created = await store.create('pods', makePod('cas', space));
      const rv1 = created.metadata.resourceVersion!;
      const v2 = await store.update('pods', { ...created, status: { phase: 'Running' } }, { expectedResourceVersion: rv1 });
      assert.deepEqual(v2.status, { phase: 'Running' });
      await assert.rejects(store.update('pods', { ...created, status: { phase: 'Failed' } }, { expectedResourceVersion: rv1 }), Conflict);
      assert.deepEqual(store.get('pods', space, 'cas'), v2);
    });

    it('checks expectedUid, and treats the body uid as a precondition', async () => {
      const space = ns();
      const created = await store.create('pods', makePod('uid', space));
      await assert.rejects(store.update('pods', created, { expectedUid: randomUUID() }), Conflict);
      const other = structuredClone(created);
      other.metadata.uid = randomUUID();
      await assert.rejects(store.update('pods', other), Conflict);
      const ok = await store.update('pods', { ...created, status: { phase: 'Running' } }, { expectedUid: created.metadata.uid });
      assert.ok(rvOf(ok) > rvOf(created));
      await assert.rejects(store.delete('pods', space, 'uid', { expectedUid: randomUUID() }), Conflict);
      await assert.rejects(store.delete('pods', space, 'uid', { expectedResourceVersion: created.metadata.resourceVersion }), Conflict);
      assert.ok(store.get('pods', space, 'uid'));
    });

    it('fails with NotFound on update or delete of a missing object', async () => {
      const space = ns();
      await assert.rejects(store.update('pods', makePod('ghost', space)), NotFound);
      await assert.rejects(store.delete('pods', space, 'ghost'), NotFound);
    });

    it('deletes: the object is gone from get and list, and the result has a new resourceVersion', async () => {
      const space = ns();
      const created = await store.create('pods', makePod('del', space));
      await store.create('pods', makePod('keep', space));
      const deleted = await store.delete('pods', space, 'del', { expectedResourceVersion: created.metadata.resourceVersion, expectedUid: created.metadata.uid });
      assert.ok(rvOf(deleted) > rvOf(created));
      assert.deepEqual(withoutRv(deleted), withoutRv(created));
      assert.equal(store.get('pods', space, 'del'), undefined);
      assert.deepEqual(store.list('pods', space).items.map((o) => o.metadata.name), ['keep']);
      await assert.rejects(store.delete('pods', space, 'del'), NotFound);
      await assert.rejects(store.update('pods', created), NotFound);
    });

    it('creates a deleted object again as a new incarnation', async () => {
      const space = ns();
      const first = await store.create('pods', makePod('again', space));
      await store.delete('pods', space, 'again');
      const second = await store.create('pods', makePod('again', space, { image: 'nginx:2' }));
      assert.notEqual(second.metadata.uid, first.metadata.uid);
      assert.ok(rvOf(second) > rvOf(first));
      assert.deepEqual(store.get('pods', space, 'again'), second);
      const updated = await store.update('pods', { ...second, status: { phase: 'Running' } });
      assert.deepEqual(updated.status, { phase: 'Running' });
    });

    it('issues strictly increasing resourceVersions across all writes', async () => {
      const space = ns();
      const seen: number[] = [];
      const objs = await Promise.all(Array.from({ length: 20 }, (_, i) => store.create('pods', makePod(`inc-${i}`, space))));
      for (const o of objs) seen.push(rvOf(o));
      for (const o of objs) seen.push(rvOf(await store.update('pods', { ...o, status: { phase: 'Running' } })));
      for (const o of objs.slice(0, 5)) seen.push(rvOf(await store.delete('pods', space, o.metadata.name!)));
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], `rv ${seen[i]} after ${seen[i - 1]}`);
      assert.equal(store.currentResourceVersion(), String(seen.at(-1)));
      assert.equal(new Set(seen).size, seen.length);
    });

    it('hands out copies: mutating results, inputs or events does not change the store', async () => {
      const space = ns();
      const input = makePod('copy', space);
      const created = await store.create('pods', input);
      input.metadata.labels!.app = 'changed-input';
      created.metadata.labels!.app = 'changed-result';
      const got = store.get('pods', space, 'copy')!;
      assert.equal(got.metadata.labels!.app, 'web');
      got.metadata.labels!.app = 'changed-get';
      store.list('pods', space).items[0].metadata.labels!.app = 'changed-list';
      const events: StoreEvent[] = [];
      const stop = store.watch({ namespace: space }, (e) => {
        e.object.metadata.labels!.app = 'changed-by-watcher';
        events.push(e);
      });
      const updated = await store.update('pods', { ...store.get('pods', space, 'copy')!, status: { phase: 'Running' } });
      stop();
      assert.equal(events.length, 1);
      assert.equal(updated.metadata.labels!.app, 'web');
      assert.equal(store.get('pods', space, 'copy')!.metadata.labels!.app, 'web');
    });

    it('delivers live events in order, filtered by resource and namespace', async () => {
      const a = ns();
      const b = ns();
      const podsInA: StoreEvent[] = [];
      const allInA: StoreEvent[] = [];
      const allPods: StoreEvent[] = [];
      const stops = [
        store.watch({ resource: 'pods', namespace: a }, (e) => podsInA.push(e)),
        store.watch({ namespace: a }, (e) => allInA.push(e)),
        store.watch({ resource: 'pods' }, (e) => allPods.push(e)),
      ];
      const p = await store.create('pods', makePod('w', a));
      await store.create('pods', makePod('w', b));
      const cm = await store.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w', namespace: a, uid: randomUUID() } });
      const p2 = await store.update('pods', { ...p, status: { phase: 'Running' } });
      const p3 = await store.delete('pods', a, 'w');
      for (const stop of stops) stop();
      await store.create('pods', makePod('after-stop', a));

      assert.deepEqual(podsInA.map((e) => [e.type, e.resource, e.object.metadata.resourceVersion]), [
        ['ADDED', 'pods', p.metadata.resourceVersion],
        ['MODIFIED', 'pods', p2.metadata.resourceVersion],
        ['DELETED', 'pods', p3.metadata.resourceVersion],
      ]);
      assert.deepEqual(podsInA[1].object, p2);
      assert.deepEqual(podsInA[2].object, p3);
      assert.deepEqual(allInA.map((e) => [e.type, e.resource]), [
        ['ADDED', 'pods'],
        ['ADDED', 'configmaps'],
        ['MODIFIED', 'pods'],
        ['DELETED', 'pods'],
      ]);
      assert.deepEqual(allInA[1].object, cm);
      const mine = allPods.filter((e) => e.object.metadata.namespace === a || e.object.metadata.namespace === b);
      assert.deepEqual(mine.map((e) => [e.type, e.object.metadata.namespace]), [
        ['ADDED', a],
        ['ADDED', b],
        ['MODIFIED', a],
        ['DELETED', a],
      ]);
      const rvs = allPods.map((e) => Number(e.object.metadata.resourceVersion));
      for (let i = 1; i < rvs.length; i++) assert.ok(rvs[i] > rvs[i - 1]);
    });

    it('keeps working when a watch handler throws', async () => {
      const space = ns();
      const got: string[] = [];
      const stopBad = store.watch({ namespace: space }, () => {
        throw new Error('handler bug');
      });
      const stopGood = store.watch({ namespace: space }, (e) => got.push(e.object.metadata.name!));
      await store.create('pods', makePod('t1', space));
      stopBad();
      stopGood();
      assert.deepEqual(got, ['t1']);
      assert.ok(store.get('pods', space, 't1'));
    });

    it('replays the missed events when watching from an old resourceVersion', async () => {
      const space = ns();
      const start = store.list('pods', space).resourceVersion;
      const a = await store.create('pods', makePod('r1', space));
      const b = await store.create('pods', makePod('r2', space));
      await store.update('pods', { ...a, status: { phase: 'Running' } });
      await store.delete('pods', space, 'r2');
      const events: StoreEvent[] = [];
      const stop = store.watch({ resource: 'pods', namespace: space, sinceResourceVersion: start }, (e) => events.push(e));
      assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), [
        ['ADDED', 'r1'],
        ['ADDED', 'r2'],
        ['MODIFIED', 'r1'],
        ['DELETED', 'r2'],
      ]);
      await store.create('pods', makePod('r3', space));
      stop();
      assert.deepEqual(events.map((e) => e.object.metadata.name).at(-1), 'r3');
      assert.equal(events.length, 5);

      // From the middle: only what came after.
      const fromB: StoreEvent[] = [];
      store.watch({ namespace: space, sinceResourceVersion: b.metadata.resourceVersion }, (e) => fromB.push(e))();
      assert.deepEqual(fromB.map((e) => [e.type, e.object.metadata.name]), [
        ['MODIFIED', 'r1'],
        ['DELETED', 'r2'],
        ['ADDED', 'r3'],
      ]);
      // From now: nothing to replay.
      const fromNow: StoreEvent[] = [];
      store.watch({ namespace: space, sinceResourceVersion: store.currentResourceVersion() }, (e) => fromNow.push(e))();
      assert.deepEqual(fromNow, []);
    });

    it('fails with Gone when the resourceVersion is older than the retained history', async () => {
      const small = await makeStore({ historyLimit: 5 });
      try {
        await small.store.start();
        const space = ns();
        // A warm-up write, so `before` below is never '0' (which means "live only").
        await small.store.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'warm-up', namespace: space, uid: randomUUID() } });
        const first = await small.store.create('pods', makePod('g0', space));
        const before = Number(first.metadata.resourceVersion) - 1;
        for (let i = 1; i < 8; i++) await small.store.create('pods', makePod(`g${i}`, space));
        assert.throws(() => small.store.watch({ sinceResourceVersion: String(before) }, () => {}), Gone);
        assert.throws(() => small.store.watch({ sinceResourceVersion: first.metadata.resourceVersion }, () => {}), Gone);
        // The last five events are retained: watching from just before them replays all five.
        const cur = Number(small.store.currentResourceVersion());
        const got: string[] = [];
        small.store.watch({ sinceResourceVersion: String(cur - 5) }, (e) => got.push(e.object.metadata.name!))();
        assert.deepEqual(got, ['g3', 'g4', 'g5', 'g6', 'g7']);
      } finally {
        await small.store.stop();
        await small.cleanup();
      }
    });
  });
}
