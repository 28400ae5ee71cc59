import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createControllerManager, defineController, type ControllerEvent } from '../../../src/agent/controllers/controller.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { waitFor } from '../../support/wait-for.ts';

function cm(name: string, data: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data };
}

const keyOf = (e: ControllerEvent) => `${e.object.metadata.namespace}/${e.object.metadata.name}`;

/** A controller that records what it reconciles; its reconcile can be held open. */
function recorder(client: FakeObjectClient, extra: { resyncMs?: number; onStart?: () => void } = {}) {
  const seen: string[] = [];
  const events: ControllerEvent[] = [];
  let gate: Promise<void> | undefined;
  let inFlight = 0;
  const controller = defineController({
    name: 'recorder',
    watches: [
      {
        resource: 'configmaps',
        toKeys: (e) => {
          events.push(e);
          return [keyOf(e)];
        },
      },
    ],
    resyncMs: extra.resyncMs,
    onStart: extra.onStart,
    async reconcile(key) {
      inFlight++;
      try {
        seen.push(key);
        if (gate) await gate;
        // Reads the current state: level-triggered.
        client.get('configmaps', 'default', key.split('/')[1]!);
      } finally {
        inFlight--;
      }
    },
  });
  return {
    controller,
    seen,
    events,
    hold() {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
    inFlight: () => inFlight,
  };
}

describe('controller manager', () => {
  it('resyncs every watched object on start, then follows changes', async () => {
    const client = createFakeObjectClient();
    await client.create('configmaps', cm('a'));
    await client.create('configmaps', cm('b'));
    const r = recorder(client);
    const mgr = createControllerManager({ client, logger: silentLogger(), controllers: [r.controller] });
    await mgr.start();
    await mgr.idle();
    assert.deepEqual([...r.seen].sort(), ['default/a', 'default/b']);
    assert.ok(r.events.every((e) => e.resync === true), 'start-up replays are marked as resync');

    await client.create('configmaps', cm('c'));
    await mgr.idle();
    assert.equal(r.seen.at(-1), 'default/c');
    assert.equal(r.events.at(-1)?.resync, undefined, 'live events are not marked');
    await mgr.stop();
  });

  it('stop cancels the watches and waits for the reconcile in flight', async () => {
    const client = createFakeObjectClient();
    const r = recorder(client);
    const mgr = createControllerManager({ client, logger: silentLogger(), controllers: [r.controller] });
    await mgr.start();
    const release = r.hold();
    await client.create('configmaps', cm('slow'));
    await waitFor(() => r.inFlight() === 1, 'reconcile running');
    let stopped = false;
    const stopping = mgr.stop().then(() => (stopped = true));
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(stopped, false, 'stop waits for the reconcile in flight');
    release();
    await stopping;
    assert.equal(r.inFlight(), 0);
    assert.equal(mgr.running(), false);

    const before = r.seen.length;
    await client.create('configmaps', cm('after-stop'));
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(r.seen.length, before, 'no reconcile after stop');
  });

  it('a restart does a full resync, including what changed while stopped', async () => {
    const client = createFakeObjectClient();
    let starts = 0;
    const r = recorder(client, { onStart: () => starts++ });
    const mgr = createControllerManager({ client, logger: silentLogger(), controllers: [r.controller] });
    await mgr.start();
    await mgr.stop();
    await client.create('configmaps', cm('while-follower'));
    await mgr.start();
    await mgr.idle();
    assert.ok(r.seen.includes('default/while-follower'));
    assert.equal(starts, 2, 'onStart runs on every start');
    // start() while running is a no-op.
    await mgr.start();
    assert.equal(starts, 2);
    await mgr.stop();
  });

  it('serialises flapping start/stop calls and ends in the last requested state', async () => {
    const client = createFakeObjectClient();
    const r = recorder(client);
    const mgr = createControllerManager({ client, logger: silentLogger(), controllers: [r.controller] });
    const calls = [mgr.start(), mgr.stop(), mgr.start(), mgr.stop(), mgr.start()];
    await Promise.all(calls);
    assert.equal(mgr.running(), true);
    await client.create('configmaps', cm('x'));
    await mgr.idle();
    // Exactly one live watch: the create is reconciled once.
    assert.equal(r.seen.filter((k) => k === 'default/x').length, 1);
    await mgr.stop();
    assert.equal(mgr.running(), false);
  });

  it('skips reconciles while not active', async () => {
    const client = createFakeObjectClient();
    const r = recorder(client);
    let active = false;
    const mgr = createControllerManager({ client, logger: silentLogger(), controllers: [r.controller], isActive: () => active });
    await mgr.start();
    await client.create('configmaps', cm('a'));
    await mgr.idle();
    assert.deepEqual(r.seen, []);
    active = true;
    mgr.resync();
    await mgr.idle();
    assert.deepEqual(r.seen, ['default/a']);
    await mgr.stop();
  });

  it('retries a failing reconcile with back-off and honours requeueAfterMs', async () => {
    const client = createFakeObjectClient();
    await client.create('configmaps', cm('flaky'));
    let attempts = 0;
    let requeued = 0;
    const flaky = defineController({
      name: 'flaky',
      watches: [{ resource: 'configmaps', toKeys: (e) => [keyOf(e)] }],
      async reconcile() {
        if (++attempts < 3) throw new Error('not yet');
        if (requeued++ === 0) return { requeueAfterMs: 10 };
      },
    });
    const mgr = createControllerManager({ client, logger: silentLogger(), controllers: [flaky], baseDelayMs: 5 });
    await mgr.start();
    await waitFor(() => attempts >= 4, 'three attempts and one requeue', 2000);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(attempts, 4, 'two failures, a success that asked to be requeued, the requeue; then nothing');
    await mgr.stop();
  });

  it('keeps delivering to other controllers when one maps a change badly', async () => {
    const client = createFakeObjectClient();
    const broken = defineController({
      name: 'broken',
      watches: [
        {
          resource: 'configmaps',
          toKeys: () => {
            throw new Error('bug');
          },
        },
      ],
      reconcile: async () => {},
    });
    const r = recorder(client);
    const mgr = createControllerManager({ client, logger: silentLogger(), controllers: [broken, r.controller] });
    await mgr.start();
    await client.create('configmaps', cm('ok'));
    await mgr.idle();
    assert.ok(r.seen.includes('default/ok'));
    await mgr.stop();
  });

  it('runs a periodic resync when asked', async () => {
    const client = createFakeObjectClient();
    await client.create('configmaps', cm('p'));
    const r = recorder(client, { resyncMs: 20 });
    const mgr = createControllerManager({ client, logger: silentLogger(), controllers: [r.controller] });
    await mgr.start();
    await waitFor(() => r.seen.filter((k) => k === 'default/p').length >= 3, 'resynced repeatedly', 2000);
    await mgr.stop();
  });

  it('refuses bad definitions', () => {
    assert.throws(() => defineController({ name: '', watches: [], reconcile: async () => {} }), /name is required/);
    assert.throws(() => defineController({ name: 'x', watches: [], reconcile: async () => {}, resyncMs: 0 }), /resyncMs/);
    const c = defineController({ name: 'dup', watches: [], reconcile: async () => {} });
    assert.throws(() => createControllerManager({ client: createFakeObjectClient(), logger: silentLogger(), controllers: [c, c] }), /two controllers/);
  });
});
