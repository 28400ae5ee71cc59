// The kubelet's resource side on the fake runtime: Docker settings from
// requests/limits, GPU admission without overcommit, eviction, OOMKilled, QoS.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, ContainerStatus, Pod, PodSpec } from '../../../src/agent/api/object-types.ts';
import { createFakeRuntime, type FakeRuntime, type FakeBehaviour } from '../../../src/agent/kubelet/fake-runtime.ts';
import { createKubelet, type Kubelet } from '../../../src/agent/kubelet/kubelet.ts';
import type { ContainerCreateSpec, ContainerInfo } from '../../../src/agent/kubelet/container-runtime.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { waitFor } from '../../support/wait-for.ts';
import { boundPod, testKubeletOptions } from './kubelet-harness.ts';

const NODE = 'node-r';
const IMAGE = 'mesh.local/busybox:latest';

let client: FakeObjectClient;
let runtime: FakeRuntime;
let kubelets: Kubelet[];
let behaviours: Map<string, FakeBehaviour>;

function newKubelet(gpus = 0): Kubelet {
  const k = createKubelet(testKubeletOptions({ nodeName: NODE, client, runtime, resyncMs: 100, gpus }));
  kubelets.push(k);
  return k;
}

async function createPod(name: string, spec: Partial<PodSpec>, status?: Pod['status']): Promise<Pod> {
  return client.create<Pod>('pods', boundPod(name, NODE, spec, status));
}
const pod = (name: string) => client.get<Pod>('pods', 'default', name);
const app = (name: string, resources?: Container['resources'], extra: Partial<Container> = {}): Container => ({
  name,
  image: IMAGE,
  imagePullPolicy: 'Never',
  ...(resources ? { resources } : {}),
  ...extra,
});
const appContainers = (podName: string): ContainerInfo[] =>
  runtime.all().filter((c) => c.labels['io.mesh.pod.name'] === podName && c.labels['io.mesh.container.kind'] !== 'sandbox');
const status = (name: string, c: string): ContainerStatus | undefined => {
  const s = pod(name)?.status;
  return [...(s?.containerStatuses ?? []), ...(s?.initContainerStatuses ?? [])].find((x) => x.name === c);
};

describe('kubelet resources (fake runtime)', { timeout: 20_000 }, () => {
  beforeEach(() => {
    client = createFakeObjectClient();
    runtime = createFakeRuntime();
    runtime.addImage(IMAGE);
    kubelets = [];
    behaviours = new Map();
    runtime.behave((spec: ContainerCreateSpec) => behaviours.get(spec.labels['io.mesh.container.name']));
  });
  afterEach(async () => {
    for (const k of kubelets) await k.stop();
    await runtime.close();
  });

  it('creates containers with CPU shares, CFS quota and a swap-less memory limit', async () => {
    await newKubelet().start();
    await createPod('res', {
      containers: [
        app('limited', { requests: { cpu: '250m', memory: '16Mi' }, limits: { cpu: '500m', memory: '32Mi', 'ephemeral-storage': '1Gi' } }),
        app('plain'),
      ],
    });
    await waitFor(() => pod('res')?.status?.phase === 'Running', 'Running');
    const specs = new Map(appContainers('res').map((c) => [c.labels['io.mesh.container.name'], runtime.specOf(c.id)!]));
    const limited = specs.get('limited')!;
    assert.equal(limited.cpuShares, 256);
    assert.equal(limited.cpuQuota, 50_000);
    assert.equal(limited.cpuPeriod, 100_000);
    assert.equal(limited.memoryBytes, 32 * 2 ** 20);
    assert.equal(limited.memorySwapBytes, 32 * 2 ** 20);
    assert.equal(limited.storageSizeBytes, undefined, 'the fake engine has no storage quota');
    assert.equal(limited.nanoCpus, undefined, 'the quota replaces NanoCpus');
    const plain = specs.get('plain')!;
    assert.equal(plain.cpuShares, 2);
    assert.equal(plain.cpuQuota, undefined);
    assert.equal(plain.memoryBytes, undefined);
  });

  it('reports OOMKilled with exit code 137 for app and init containers', async () => {
    await newKubelet().start();
    behaviours.set('hog', { exitAfterMs: 20, exitCode: 137, oomKilled: true });
    await createPod('oom-app', { restartPolicy: 'Never', containers: [app('hog', { limits: { memory: '32Mi' } })] });
    await waitFor(() => pod('oom-app')?.status?.phase === 'Failed', 'app pod Failed');
    const t = (status('oom-app', 'hog')?.state as { terminated?: { reason?: string; exitCode: number } }).terminated;
    assert.equal(t?.reason, 'OOMKilled');
    assert.equal(t?.exitCode, 137);

    behaviours.set('init-hog', { exitAfterMs: 20, exitCode: 137, oomKilled: true });
    await createPod('oom-init', { restartPolicy: 'Never', initContainers: [app('init-hog', { limits: { memory: '32Mi' } })], containers: [app('main')] });
    await waitFor(() => pod('oom-init')?.status?.phase === 'Failed', 'init pod Failed');
    const it2 = (status('oom-init', 'init-hog')?.state as { terminated?: { reason?: string; exitCode: number } }).terminated;
    assert.equal(it2?.reason, 'OOMKilled');
    assert.equal(it2?.exitCode, 137);
    assert.equal(appContainers('oom-init').filter((c) => c.labels['io.mesh.container.name'] === 'main').length, 0);

    // Restarted after an OOM kill (restartPolicy Always): lastState says why.
    behaviours.set('again', { exitAfterMs: 20, exitCode: 137, oomKilled: true });
    await createPod('oom-restart', { containers: [app('again', { limits: { memory: '32Mi' } })] });
    await waitFor(() => (status('oom-restart', 'again')?.restartCount ?? 0) >= 1, 'a restart');
    const last = (status('oom-restart', 'again')?.lastState as { terminated?: { reason?: string; exitCode: number } }).terminated;
    assert.equal(last?.reason, 'OOMKilled');
    assert.equal(last?.exitCode, 137);
  });

  it('keeps the QoS class admission set', async () => {
    await newKubelet().start();
    await createPod('qos', { containers: [app('c', { requests: { cpu: '100m' } })] }, { qosClass: 'Burstable' });
    await createPod('qos2', { containers: [app('c', { limits: { cpu: '1', memory: '1Gi' } })] });
    await waitFor(() => pod('qos')?.status?.phase === 'Running' && pod('qos2')?.status?.phase === 'Running', 'Running');
    assert.equal(pod('qos')?.status?.qosClass, 'Burstable');
    assert.equal(pod('qos2')?.status?.qosClass, 'Guaranteed');
  });

  it('hands out GPUs by device ID and rejects a pod that asks for more than is free', async () => {
    await newKubelet(2).start();
    const gpu = (n: number) => ({ limits: { 'nvidia.com/gpu': String(n) } });
    await createPod('g1', { containers: [app('c', gpu(1))] });
    await waitFor(() => pod('g1')?.status?.phase === 'Running', 'g1 Running');
    await createPod('g2', { containers: [app('c', gpu(2))] });
    await waitFor(() => pod('g2')?.status?.phase === 'Failed', 'g2 rejected');
    const st = pod('g2')!.status!;
    assert.equal(st.reason, 'UnexpectedAdmissionError');
    assert.equal(st.message, 'Allocate failed due to requested number of devices unavailable for nvidia.com/gpu. Requested: 2, Available: 1, which is unexpected');
    assert.equal(appContainers('g2').length, 0, 'a rejected pod is never started');
    await createPod('g3', { containers: [app('c', gpu(1))] });
    await waitFor(() => pod('g3')?.status?.phase === 'Running', 'g3 Running');
    const ids = (name: string) => runtime.specOf(appContainers(name)[0].id)!.deviceRequests![0];
    assert.equal(ids('g1').driver, 'nvidia');
    const [a, b] = [ids('g1').deviceIDs!, ids('g3').deviceIDs!];
    assert.equal(a.length, 1);
    assert.equal(b.length, 1);
    assert.notEqual(a[0], b[0], 'two pods never share a GPU');
    // The rejection stands on later syncs.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(pod('g2')?.status?.reason, 'UnexpectedAdmissionError');
    assert.equal(appContainers('g2').length, 0);
    // A finished pod frees its GPU for the next one.
    runtime.exit(appContainers('g1')[0].id, 0);
    await client.delete('pods', 'default', 'g1', { gracePeriodSeconds: 0 });
    await waitFor(() => !pod('g1'), 'g1 gone');
    await createPod('g4', { containers: [app('c', gpu(1))] });
    await waitFor(() => pod('g4')?.status?.phase === 'Running', 'g4 Running on the freed GPU');
    assert.deepEqual(ids('g4').deviceIDs, a);
  });

  it('re-learns held GPUs from container labels after a restart', async () => {
    const k1 = newKubelet(1);
    await k1.start();
    await createPod('held', { containers: [app('c', { limits: { 'nvidia.com/gpu': '1' } })] });
    await waitFor(() => pod('held')?.status?.phase === 'Running', 'held Running');
    await k1.stop();
    await newKubelet(1).start();
    await createPod('wants', { containers: [app('c', { limits: { 'nvidia.com/gpu': '1' } })] });
    await waitFor(() => pod('wants')?.status?.phase === 'Failed', 'wants rejected');
    assert.equal(pod('wants')?.status?.reason, 'UnexpectedAdmissionError');
    assert.equal(pod('held')?.status?.phase, 'Running');
  });

  it('evicts a pod: killed at once, not restarted, Failed with reason Evicted and the message', async () => {
    const k = newKubelet();
    await k.start();
    await createPod('victim', { containers: [app('c')] });
    await waitFor(() => pod('victim')?.status?.phase === 'Running', 'Running');
    const message = 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 1000Ki.';
    await k.evict(pod('victim')!, message);
    const p = await waitFor(() => pod('victim')?.status?.phase === 'Failed' && pod('victim'), 'Failed');
    assert.equal(p.status?.reason, 'Evicted');
    assert.equal(p.status?.message, message);
    const stops = runtime.calls.filter((c) => c.op === 'stop' && c.id === appContainers('victim')[0]?.id);
    assert.equal(stops[0]?.timeoutSeconds, 0);
    await new Promise((r) => setTimeout(r, 300)); // several resyncs
    assert.equal(appContainers('victim').length, 1, 'not restarted');
    assert.ok(runtime.all().filter((c) => c.labels['io.mesh.pod.name'] === 'victim').every((c) => c.state !== 'running'));
    assert.equal(pod('victim')?.status?.reason, 'Evicted');
  });
});
