import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import { isPodAvailable, nextAvailableInMs, requeueWhenAvailable } from '../../../src/agent/controllers/pod-availability.ts';

const T0 = Date.parse('2026-04-01T08:00:00Z');

function pod(name: string, ready: 'True' | 'False' | undefined, readySinceMs?: number): Pod {
  const conditions = ready === undefined ? [] : [{ type: 'Ready', status: ready, lastTransitionTime: readySinceMs === undefined ? undefined : new Date(readySinceMs).toISOString() }];
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [] }, status: { conditions } } as Pod;
}

describe('pod availability', () => {
  it('counts a pod available once it has been ready for minReadySeconds', () => {
    const p = pod('a', 'True', T0);
    assert.equal(isPodAvailable(p, 10, new Date(T0 + 9_999)), false);
    assert.equal(isPodAvailable(p, 10, new Date(T0 + 10_000)), true);
    assert.equal(isPodAvailable(pod('b', 'False', T0), 0, new Date(T0)), false);
  });

  it('waits for the ready pod closest to becoming available, ignoring the rest', () => {
    const now = new Date(T0 + 5_000);
    const pods = [pod('later', 'True', T0 + 3_000), pod('sooner', 'True', T0), pod('unready', 'False', T0), pod('done', 'True', T0 - 60_000)];
    assert.equal(nextAvailableInMs(pods, 10, now), 5_000);
    assert.deepEqual(requeueWhenAvailable(pods, 10, now), { requeueAfterMs: 5_000 });
  });

  it('waits for nothing without minReadySeconds or a pod still to turn available', () => {
    const pods = [pod('a', 'True', T0), pod('no-time', 'True')];
    assert.equal(nextAvailableInMs(pods, 0, new Date(T0)), undefined);
    assert.equal(requeueWhenAvailable(pods, 10, new Date(T0 + 20_000)), undefined);
  });
});
