import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, Pod } from '../../../src/agent/api/object-types.ts';
import { createGpuAllocator, podGpuRequest } from '../../../src/agent/kubelet/gpu-allocator.ts';
import { seededRandom } from '../../support/seeded-random.ts';

const gpuC = (name: string, n: number, extra: Partial<Container> = {}): Container => ({
  name,
  image: 'i',
  ...(n ? { resources: { limits: { 'nvidia.com/gpu': String(n) } } } : {}),
  ...extra,
});
const pod = (uid: string, containers: Container[], initContainers?: Container[]): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: uid, namespace: 'default', uid },
  spec: { containers, initContainers },
});

describe('GPU allocator', () => {
  it('counts what a pod needs at once: max(largest init, app + sidecars)', () => {
    assert.equal(podGpuRequest(pod('a', [gpuC('x', 1), gpuC('y', 2)])), 3);
    assert.equal(podGpuRequest(pod('a', [gpuC('x', 1)], [gpuC('i', 4)])), 4);
    assert.equal(podGpuRequest(pod('a', [gpuC('x', 1)], [gpuC('s', 1, { restartPolicy: 'Always' }), gpuC('i', 1)])), 2);
    assert.equal(podGpuRequest(pod('a', [gpuC('x', 0)])), 0);
  });

  it('gives pods disjoint devices and rejects what would overcommit, with Kubernetes reason and message', () => {
    const a = createGpuAllocator(2);
    const p1 = pod('p1', [gpuC('x', 1)]);
    const p2 = pod('p2', [gpuC('x', 2)]);
    const p3 = pod('p3', [gpuC('x', 1)]);
    assert.equal(a.admit(p1).admit, true);
    const r = a.admit(p2);
    assert.equal(r.admit, false);
    assert.equal(r.reason, 'UnexpectedAdmissionError');
    assert.equal(
      r.message,
      'Allocate failed due to requested number of devices unavailable for nvidia.com/gpu. Requested: 2, Available: 1, which is unexpected',
    );
    assert.equal(a.admit(p3).admit, true);
    assert.notDeepEqual(a.idsFor(p1, 'x'), a.idsFor(p3, 'x'));
    assert.equal(a.free(), 0);
    // Admitting again is idempotent; releasing frees the device for p2's turn.
    assert.equal(a.admit(p1).admit, true);
    assert.equal(a.free(), 0);
    a.release('p1');
    a.release('p3');
    assert.equal(a.admit(p2).admit, true);
    assert.deepEqual(a.idsFor(p2, 'x'), ['0', '1']);
    // Pods without GPUs are always admitted, even on a node without any.
    assert.equal(createGpuAllocator(0).admit(pod('n', [gpuC('x', 0)])).admit, true);
    assert.equal(createGpuAllocator(0).admit(pod('g', [gpuC('x', 1)])).admit, false);
  });

  it('splits a pod\'s devices among its containers; init containers reuse the first ones', () => {
    const a = createGpuAllocator(4);
    const p = pod('p', [gpuC('x', 1), gpuC('none', 0), gpuC('y', 2)], [gpuC('init', 2), gpuC('side', 1, { restartPolicy: 'Always' })]);
    assert.equal(a.admit(p).admit, true);
    const side = a.idsFor(p, 'side');
    const x = a.idsFor(p, 'x');
    const y = a.idsFor(p, 'y');
    assert.equal(side.length + x.length + y.length, 4);
    assert.equal(new Set([...side, ...x, ...y]).size, 4);
    assert.deepEqual(a.idsFor(p, 'none'), []);
    assert.deepEqual(a.idsFor(p, 'init'), ['0', '1']);
  });

  it('restores held devices after a restart so they are not handed out twice', () => {
    const a = createGpuAllocator(2);
    a.restore('old', ['1', '7']); // 7 is not on this node
    assert.equal(a.free(), 1);
    const p = pod('new', [gpuC('x', 1)]);
    assert.equal(a.admit(p).admit, true);
    assert.deepEqual(a.idsFor(p, 'x'), ['0']);
  });

  it('never hands one device to two pods (seeded random admit/release)', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100000);
    const rand = seededRandom(seed);
    const a = createGpuAllocator(4);
    const live = new Map<string, Pod>();
    for (let i = 0; i < 500; i++) {
      if (live.size && rand() < 0.4) {
        const uid = [...live.keys()][Math.floor(rand() * live.size)];
        a.release(uid);
        live.delete(uid);
        continue;
      }
      const p = pod(`p${i}`, [gpuC('a', Math.floor(rand() * 3)), gpuC('b', Math.floor(rand() * 2))]);
      const need = podGpuRequest(p);
      const free = a.free();
      const r = a.admit(p);
      assert.equal(r.admit, need <= free, `seed ${seed}: admit with need ${need}, free ${free}`);
      if (r.admit) live.set(p.metadata.uid!, p);
      const ids = [...live.values()].flatMap((q) => [...a.idsFor(q, 'a'), ...a.idsFor(q, 'b')]);
      assert.equal(new Set(ids).size, ids.length, `seed ${seed}: a device is held twice`);
      assert.equal(a.free(), 4 - ids.length, `seed ${seed}`);
    }
  });
});
