import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createEventExpiry, lastSeen } from '../../../src/agent/controllers/event-expiry.ts';
import { createFakeObjectClient } from '../../support/fake-object-client.ts';

const T0 = Date.parse('2025-01-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function event(name: string, ns: string, last: number, first = last): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: ns },
    reason: 'Started',
    message: 'x',
    firstTimestamp: iso(first),
    lastTimestamp: iso(last),
  } as KubeObject;
}

describe('event expiry', () => {
  it('deletes Events last seen longer ago than the TTL, in every namespace, and keeps the rest', async () => {
    const client = createFakeObjectClient();
    const hour = 3_600_000;
    await client.create('events', event('old', 'default', T0 - hour - 1));
    await client.create('events', event('old-elsewhere', 'kube-system', T0 - 5 * hour));
    // First seen long ago but repeated recently: stays.
    await client.create('events', event('renewed', 'default', T0 - 10_000, T0 - 3 * hour));
    await client.create('events', event('fresh', 'default', T0 - 1000));
    const expiry = createEventExpiry({ client, logger: silentLogger(), clock: () => T0 });
    assert.equal(await expiry.sweep(), 2);
    assert.deepEqual(client.list('events').items.map((e) => e.metadata.name).sort(), ['fresh', 'renewed']);
    assert.equal(await expiry.sweep(), 0, 'idempotent');
  });

  it('honours an injected TTL and does nothing off the leader', async () => {
    const client = createFakeObjectClient();
    await client.create('events', event('a', 'default', T0 - 61_000));
    let active = false;
    const expiry = createEventExpiry({ client, logger: silentLogger(), clock: () => T0, ttlMs: 60_000, isActive: () => active });
    assert.equal(await expiry.sweep(), 0);
    assert.equal(client.list('events').items.length, 1);
    active = true;
    assert.equal(await expiry.sweep(), 1);
    assert.equal(client.list('events').items.length, 0);
  });

  it('takes series.lastObservedTime, else lastTimestamp, eventTime, firstTimestamp, creationTimestamp', () => {
    assert.equal(lastSeen(event('x', 'd', T0)), T0);
    assert.equal(lastSeen({ metadata: { creationTimestamp: iso(T0) } } as KubeObject), T0);
    assert.equal(lastSeen({ metadata: {}, eventTime: iso(T0 + 5), series: { lastObservedTime: iso(T0 + 9) } } as unknown as KubeObject), T0 + 9);
    assert.equal(lastSeen({ metadata: {} } as KubeObject), undefined);
  });
});
