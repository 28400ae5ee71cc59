// Requests and limits on real Docker: the HostConfig the kubelet asks for, a
// memory hog OOMKilled at its limit, and a busy loop held near its CPU limit.
// Own node name; every container labelled with it is removed afterwards.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Docker from 'dockerode';
import type { ContainerStatus, Pod, PodSpec } from '../../src/agent/api/object-types.ts';
import type { ContainerRuntime } from '../../src/agent/kubelet/container-runtime.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../support/fake-object-client.ts';
import { useDockerKubelets, type DockerKubelets } from '../support/docker-kubelets.ts';
import { waitFor } from '../support/wait-for.ts';

const IMAGE = 'mesh.local/busybox:latest';
const NODE = `e2e-resources-${process.pid}-${Date.now().toString(36)}`;
const Mi = 2 ** 20;

let runtime: ContainerRuntime;
let docker: Docker;
let client: FakeObjectClient;
let kubelets: DockerKubelets;

async function startKubelet(): Promise<void> {
  client = createFakeObjectClient();
  await kubelets.kubelet(client, { gpus: 0 }).start();
}
const createPod = (name: string, spec: Partial<PodSpec>) => kubelets.createPod(client, name, spec);
const pod = (name: string) => client.get<Pod>('pods', 'default', name);
const status = (name: string, c: string): ContainerStatus | undefined => pod(name)?.status?.containerStatuses?.find((x) => x.name === c);
const sh = (name: string, script: string, resources: Record<string, Record<string, string>>) => ({
  name,
  image: IMAGE,
  imagePullPolicy: 'IfNotPresent' as const,
  command: ['sh', '-c', script],
  resources,
});
const containerId = (name: string, c: string) => (status(name, c)?.containerID ?? '').replace('docker://', '');

describe('resources on Docker', { timeout: 90_000 }, () => {
  kubelets = useDockerKubelets(NODE);
  runtime = kubelets.runtime;
  docker = new Docker({ socketPath: '/var/run/docker.sock' });

  it('sets CpuShares, CpuQuota/CpuPeriod, Memory and MemorySwap from requests and limits', { timeout: 30_000 }, async () => {
    await startKubelet();
    await createPod('hostconfig', {
      containers: [
        sh('app', 'trap "exit 0" TERM; while true; do sleep 1; done', {
          requests: { cpu: '250m', memory: '16Mi' },
          limits: { cpu: '500m', memory: '64Mi' },
        }),
      ],
    });
    await waitFor(() => pod('hostconfig')?.status?.phase === 'Running', 'Running', 20_000, () => pod('hostconfig')?.status);
    const hc = (await docker.getContainer(containerId('hostconfig', 'app')).inspect()).HostConfig;
    assert.equal(hc.CpuShares, 256);
    assert.equal(hc.CpuQuota, 50_000);
    assert.equal(hc.CpuPeriod, 100_000);
    assert.equal(hc.Memory, 64 * Mi);
    assert.equal(hc.MemorySwap, 64 * Mi);
    assert.ok(!hc.StorageOpt || !('size' in hc.StorageOpt), 'no storage size on a driver without quotas');
  });

  it('OOM-kills a container that outgrows limits.memory and reports OOMKilled, exit code 137', { timeout: 40_000 }, async () => {
    await startKubelet();
    // The shell doubles a string until the kernel kills it (it is PID 1, so the container ends).
    await createPod('hog', { restartPolicy: 'Never', containers: [sh('hog', 'x=a; while :; do x=$x$x; done', { limits: { memory: '32Mi' } })] });
    await waitFor(() => pod('hog')?.status?.phase === 'Failed', 'Failed', 30_000, () => pod('hog')?.status);
    const st = status('hog', 'hog')!;
    assert.ok('terminated' in st.state, JSON.stringify(st.state));
    assert.equal(st.state.terminated.reason, 'OOMKilled');
    assert.equal(st.state.terminated.exitCode, 137);
  });

  it('holds a busy loop near limits.cpu (200m)', { timeout: 40_000 }, async () => {
    await startKubelet();
    await createPod('spin', { containers: [sh('spin', 'trap "exit 0" TERM; while :; do :; done', { limits: { cpu: '200m' } })] });
    await waitFor(() => pod('spin')?.status?.phase === 'Running', 'Running', 20_000, () => pod('spin')?.status);
    const id = containerId('spin', 'spin');
    await new Promise((r) => setTimeout(r, 1000)); // let the quota settle in
    const a = await runtime.stats(id);
    await new Promise((r) => setTimeout(r, 5000));
    const b = await runtime.stats(id);
    assert.ok(a && b, 'stats of a running container');
    const cores = (b.cpuUsageNanoSeconds - a.cpuUsageNanoSeconds) / ((b.timestampMs - a.timestampMs) * 1e6);
    assert.ok(cores > 0.1 && cores < 0.3, `CPU usage ${cores.toFixed(3)} cores, expected about 0.2`);
  });
});
