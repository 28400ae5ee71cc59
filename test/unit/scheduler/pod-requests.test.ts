import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, parseAllocatable, podRequests } from '../../../src/agent/scheduler/pod-requests.ts';
import { pod } from './scheduler-fixtures.ts';

const c = (name: string, requests: Record<string, string>, sidecar = false) => ({
  name,
  image: 'i',
  resources: { requests },
  ...(sidecar ? { restartPolicy: 'Always' as const } : {}),
});

describe('podRequests', () => {
  it('sums app containers and rounds up like the kubelet (milli CPU, bytes)', () => {
    const r = podRequests(pod('p', { containers: [c('a', { cpu: '0.1', memory: '1Mi' }), c('b', { cpu: '250m', memory: '1k', 'nvidia.com/gpu': '1' })] }));
    assert.equal(r.milliCpu, 350);
    assert.equal(r.memory, 1024 * 1024 + 1000);
    assert.equal(r.scalar.get('nvidia.com/gpu'), 1);
  });

  it('takes the larger of the running containers and each init container with the sidecars before it', () => {
    const p = pod('p', {
      containers: [c('app', { cpu: '200m' })],
      initContainers: [c('side', { cpu: '100m' }, true), c('init', { cpu: '500m' }), c('side2', { cpu: '50m' }, true)],
    });
    // running: app 200 + sidecars 150 = 350; init: 500 + the 100 sidecar started before it = 600
    assert.equal(podRequests(p).milliCpu, 600);
    const small = pod('q', { containers: [c('app', { cpu: '1' })], initContainers: [c('init', { cpu: '500m' })] });
    assert.equal(podRequests(small).milliCpu, 1000);
  });

  it('adds the pod overhead', () => {
    assert.equal(podRequests(pod('p', { requests: { memory: '1Gi' }, overhead: { memory: '128Mi' } })).memory, 1152 * 1024 * 1024);
  });

  it('fills in kube defaults for missing CPU / memory only when asked, and keeps an explicit 0', () => {
    const p = pod('p', { containers: [c('a', {}), c('b', { cpu: '0' })] });
    assert.equal(podRequests(p).milliCpu, 0);
    const nz = podRequests(p, { nonZero: true });
    assert.equal(nz.milliCpu, DEFAULT_MILLI_CPU_REQUEST);
    assert.equal(nz.memory, 2 * DEFAULT_MEMORY_REQUEST);
  });

  it('treats an unreadable quantity as nothing requested', () => {
    assert.equal(podRequests(pod('p', { requests: { cpu: 'lots' } })).milliCpu, 0);
  });

  it('parses allocatable into the same units, pods apart', () => {
    const a = parseAllocatable({ cpu: '3900m', memory: '8Gi', pods: '110', 'nvidia.com/gpu': '4' });
    assert.equal(a.resources.milliCpu, 3900);
    assert.equal(a.resources.memory, 8 * 1024 ** 3);
    assert.equal(a.resources.scalar.get('nvidia.com/gpu'), 4);
    assert.equal(a.resources.scalar.has('pods'), false);
    assert.equal(a.pods, 110);
  });
});
