import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, Pod } from '../../../src/agent/api/object-types.ts';
import type { EventRecorder } from '../../../src/agent/event-recorder.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createBinder, type PodBinding } from '../../../src/agent/scheduler/binder.ts';
import { createDefaultPlugins } from '../../../src/agent/scheduler/default-plugins.ts';
import type { FilterPlugin } from '../../../src/agent/scheduler/framework.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { pod, sizedNode } from './scheduler-fixtures.ts';

function recorder(): EventRecorder & { seen: { type: string; reason: string; message: string; name: string }[] } {
  const seen: { type: string; reason: string; message: string; name: string }[] = [];
  return {
    seen,
    async normal(obj: KubeObject, reason: string, message: string) {
      seen.push({ type: 'Normal', reason, message, name: obj.metadata.name ?? '' });
    },
    async warning(obj: KubeObject, reason: string, message: string) {
      seen.push({ type: 'Warning', reason, message, name: obj.metadata.name ?? '' });
    },
  };
}

/** Writes spec.nodeName after a turn of the event loop, so several binds are in flight at once. */
function binding(client: FakeObjectClient, opts: { failFirst?: number } = {}): PodBinding & { calls: number } {
  let failures = opts.failFirst ?? 0;
  const b = {
    calls: 0,
    async bind(namespace: string, name: string, nodeName: string) {
      b.calls++;
      await new Promise((r) => setImmediate(r));
      if (failures > 0) {
        failures--;
        throw new Error('store unavailable');
      }
      const p = client.get<Pod>('pods', namespace, name)!;
      p.spec.nodeName = nodeName;
      return client.update('pods', p);
    },
  };
  return b;
}

const nodeOf = (client: FakeObjectClient, name: string) => client.get<Pod>('pods', 'default', name)?.spec.nodeName;

async function setup(opts: { nodes?: number; active?: () => boolean; failFirst?: number } = {}) {
  const client = createFakeObjectClient();
  for (let i = 0; i < (opts.nodes ?? 3); i++) await client.create('nodes', sizedNode(`n${i}`, '1', '4Gi'));
  const events = recorder();
  const bind = binding(client, { failFirst: opts.failFirst });
  const binder = createBinder({ client, binding: bind, events, logger: silentLogger(), isActive: opts.active, clock: () => new Date('2026-01-01T00:00:00Z') });
  return { client, events, bind, binder };
}

describe('binder', () => {
  it('binds pending pods without overcommitting nodes, even with binds in flight', async () => {
    const { client, events, binder } = await setup();
    for (let i = 0; i < 7; i++) await client.create('pods', pod(`p${i}`, { requests: { cpu: '500m' } }));
    binder.start();
    await binder.idle();
    const placed = Array.from({ length: 7 }, (_, i) => nodeOf(client, `p${i}`));
    const perNode = new Map<string, number>();
    for (const n of placed) if (n) perNode.set(n, (perNode.get(n) ?? 0) + 1);
    assert.deepEqual([...perNode.values()], [2, 2, 2]);
    const left = placed.findIndex((n) => !n);
    const waiting = client.get<Pod>('pods', 'default', `p${left}`)!;
    const cond = waiting.status!.conditions!.find((c) => c.type === 'PodScheduled')!;
    assert.deepEqual(
      { status: cond.status, reason: cond.reason, message: cond.message },
      { status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.' },
    );
    assert.equal(events.seen.filter((e) => e.reason === 'Scheduled').length, 6);
    assert.deepEqual(events.seen.filter((e) => e.reason === 'FailedScheduling').map((e) => e.message), ['0/3 nodes are available: 3 Insufficient cpu.']);
    await binder.stop();
  });

  it('retries a waiting pod when a node appears, and when a bound pod goes away', async () => {
    const { client, binder } = await setup({ nodes: 1 });
    await client.create('pods', pod('big', { requests: { cpu: '800m' } }));
    await client.create('pods', pod('next', { requests: { cpu: '800m' } }));
    binder.start();
    await binder.idle();
    const first = nodeOf(client, 'big') ? 'big' : 'next';
    const second = first === 'big' ? 'next' : 'big';
    assert.equal(nodeOf(client, second), undefined);
    await client.delete('pods', 'default', first, { gracePeriodSeconds: 0 });
    await binder.idle();
    assert.equal(nodeOf(client, second), 'n0');
    await client.create('pods', pod('third', { requests: { cpu: '800m' } }));
    await binder.idle();
    assert.equal(nodeOf(client, 'third'), undefined);
    await client.create('nodes', sizedNode('n9', '1', '4Gi'));
    await binder.idle();
    assert.equal(nodeOf(client, 'third'), 'n9');
    await binder.stop();
  });

  it('re-queues waiting pods when a node changes what the scheduler reads, not on heartbeats', async () => {
    const client = createFakeObjectClient();
    await client.create('nodes', sizedNode('n0', '1', '4Gi'));
    let attempts = 0;
    // Counts scheduling attempts of the blocked pod and keeps it waiting.
    const blocker: FilterPlugin = {
      name: 'Blocker',
      filter: (p) => (p.labels.blocked ? (attempts++, 'blocked for the test') : undefined),
    };
    const binder = createBinder({ client, binding: binding(client), events: recorder(), logger: silentLogger(), plugins: [...createDefaultPlugins(), blocker] });
    await client.create('pods', pod('waiting', { labels: { blocked: 'yes' } }));
    binder.start();
    await binder.idle();
    const settled = attempts;
    assert.ok(settled >= 1);
    const n = client.get('nodes', '', 'n0')!;
    await client.updateStatus('nodes', { ...n, status: { ...(n.status as object), heartbeat: 'later' } });
    await binder.idle();
    assert.equal(attempts, settled);
    const m = client.get('nodes', '', 'n0')!;
    await client.update('nodes', { ...m, metadata: { ...m.metadata, labels: { ...m.metadata.labels, pool: 'x' } } });
    await binder.idle();
    assert.equal(attempts, settled + 1);
    await binder.stop();
  });

  it('binds only while active, and catches up on resync', async () => {
    let active = false;
    const { client, bind, binder } = await setup({ active: () => active });
    await client.create('pods', pod('p'));
    binder.start();
    await binder.idle();
    assert.equal(bind.calls, 0);
    active = true;
    binder.resync();
    await binder.idle();
    assert.ok(nodeOf(client, 'p'));
    await binder.stop();
  });

  it('forgets a failed bind and tries again', async () => {
    const { client, bind, binder } = await setup({ failFirst: 1 });
    await client.create('pods', pod('p', { requests: { cpu: '1' } }));
    binder.start();
    await binder.idle();
    for (let i = 0; i < 50 && !nodeOf(client, 'p'); i++) {
      await new Promise((r) => setTimeout(r, 20));
      await binder.idle();
    }
    assert.ok(nodeOf(client, 'p'));
    assert.equal(bind.calls, 2);
    await binder.stop();
  });
});
