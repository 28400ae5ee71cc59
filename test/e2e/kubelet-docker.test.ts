// The kubelet on real Docker. Each run uses its own node name and removes every
// container labelled with it afterwards.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Readable } from 'node:stream';
import type { ContainerStatus, Pod, PodSpec } from '../../src/agent/api/object-types.ts';
import type { ContainerRuntime } from '../../src/agent/kubelet/container-runtime.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../support/fake-object-client.ts';
import { useDockerKubelets, type DockerKubelets } from '../support/docker-kubelets.ts';
import { waitFor } from '../support/wait-for.ts';

const IMAGE = 'mesh.local/busybox:latest';
const NODE = `e2e-kubelet-${process.pid}-${Date.now().toString(36)}`;
const LOOP = 'trap "exit 0" TERM; while true; do sleep 0.1; done';

let client: FakeObjectClient;
let docker: DockerKubelets;
let runtime: ContainerRuntime;
const newKubelet = () => docker.kubelet(client);
const createPod = (name: string, spec: Partial<PodSpec>) => docker.createPod(client, name, spec);

const pod = (name: string) => client.get<Pod>('pods', 'default', name);
const status = (name: string, container: string): ContainerStatus | undefined => {
  const s = pod(name)?.status;
  return [...(s?.containerStatuses ?? []), ...(s?.initContainerStatuses ?? [])].find((c) => c.name === container);
};
const sh = (name: string, script: string, extra: Record<string, unknown> = {}) => ({
  name,
  image: IMAGE,
  imagePullPolicy: 'Never' as const,
  command: ['sh', '-c', script],
  ...extra,
});

async function readUntil(stream: Readable, pattern: RegExp, timeoutMs: number): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(text)}`)), timeoutMs);
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    stream.on('end', () => {
      clearTimeout(timer);
      if (pattern.test(text)) resolve(text);
      else reject(new Error(`stream ended without ${pattern}; got ${JSON.stringify(text)}`));
    });
  });
}

function httpStatus(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('kubelet on Docker', { timeout: 120_000 }, () => {
  docker = useDockerKubelets(NODE);
  runtime = docker.runtime;

  it('runs a pod with an init container and a sidecar in one network namespace', { timeout: 30_000 }, async () => {
    client = createFakeObjectClient();
    await newKubelet().start();
    await createPod('web', {
      initContainers: [sh('setup', 'echo init done'), sh('sidecar', LOOP, { restartPolicy: 'Always' })],
      containers: [sh('httpd', 'exec httpd -f -p 8080 -h /tmp')],
    });
    const p = await waitFor(() => pod('web')?.status?.phase === 'Running' && pod('web'), 'Running', 20_000, () => pod('web')?.status);
    const st = p.status!;
    assert.match(st.podIP ?? '', /^\d+\.\d+\.\d+\.\d+$/);
    const setup = status('web', 'setup')!;
    assert.ok('terminated' in setup.state && setup.state.terminated.reason === 'Completed');
    assert.ok('running' in status('web', 'sidecar')!.state);
    assert.match(status('web', 'httpd')!.containerID ?? '', /^docker:\/\/[0-9a-f]{64}$/);
    assert.match(status('web', 'httpd')!.imageID, /^docker:\/\/sha256:/);
    assert.equal(st.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    // httpd runs in its own container but answers on the sandbox's IP.
    const code = await waitFor(() => httpStatus(st.podIP!, 8080).catch(() => 0), 'httpd answers', 10_000);
    assert.ok(code >= 200 && code < 500, `HTTP ${code}`);
  });

  it('restarts a crashing container, counts restarts and keeps the previous logs', { timeout: 30_000 }, async () => {
    client = createFakeObjectClient();
    const k = newKubelet();
    await k.start();
    await createPod('crash', { containers: [sh('app', 'echo crashing; exit 1')] });
    const c = await waitFor(() => {
      const s = status('crash', 'app');
      return s && s.restartCount >= 2 && 'terminated' in s.lastState && s;
    }, '2 restarts', 20_000, () => pod('crash')?.status);
    assert.ok('terminated' in c.lastState);
    assert.equal(c.lastState.terminated.exitCode, 1);
    assert.equal(c.lastState.terminated.reason, 'Error');
    const prev = await k.streamLogs(pod('crash')!, { previous: true });
    assert.equal(await readUntil(prev, /crashing\n/, 5000), 'crashing\n');
  });

  it('streams logs, with tail and follow', { timeout: 30_000 }, async () => {
    client = createFakeObjectClient();
    const k = newKubelet();
    await k.start();
    await createPod('ticker', { containers: [sh('app', 'trap "exit 0" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done')] });
    const p = await waitFor(() => pod('ticker')?.status?.phase === 'Running' && pod('ticker'), 'Running', 20_000);
    const follow = await k.streamLogs(p, { follow: true, timestamps: true });
    const text = await readUntil(follow, /tick 4\n/, 10_000);
    follow.destroy();
    assert.match(text.split('\n')[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z tick 0$/);
    const tail = await k.streamLogs(p, { tailLines: 1 });
    const last = await readUntil(tail, /\n/, 5000);
    assert.match(last, /^tick \d+\n$/);
  });

  it('deletes gracefully: the container gets SIGTERM and the object is removed', { timeout: 30_000 }, async () => {
    client = createFakeObjectClient();
    const k = newKubelet();
    await k.start();
    await createPod('graceful', {
      terminationGracePeriodSeconds: 20,
      containers: [sh('app', 'trap "echo got TERM; exit 0" TERM; echo ready; while true; do sleep 0.1; done')],
    });
    const p = await waitFor(() => pod('graceful')?.status?.phase === 'Running' && pod('graceful'), 'Running', 20_000);
    const logs = await k.streamLogs(p, { follow: true });
    await readUntil(logs, /ready\n/, 5000);
    const gotTerm = readUntil(logs, /got TERM\n/, 15_000);
    const t0 = Date.now();
    await client.delete('pods', 'default', 'graceful');
    await gotTerm;
    await waitFor(() => pod('graceful') === undefined, 'object removed', 15_000);
    assert.ok(Date.now() - t0 < 15_000, 'stopped on SIGTERM, well before the grace period');
    const left = await runtime.listContainers({ 'io.mesh.node': NODE, 'io.mesh.pod.uid': p.metadata.uid! });
    assert.equal(left.length, 0);
  });

  it('a new kubelet on the same node adopts running containers without restarting them', { timeout: 30_000 }, async () => {
    client = createFakeObjectClient();
    const first = newKubelet();
    await first.start();
    const created = await createPod('adopt', { containers: [sh('app', LOOP)] });
    await waitFor(() => pod('adopt')?.status?.phase === 'Running', 'Running', 20_000);
    const labels = { 'io.mesh.node': NODE, 'io.mesh.pod.uid': created.metadata.uid! };
    const before = (await runtime.listContainers(labels)).map((c) => `${c.id}@${c.startedAt}`).sort();
    await docker.stop(first);

    await newKubelet().start();
    await new Promise((r) => setTimeout(r, 1500));
    const after = (await runtime.listContainers(labels)).map((c) => `${c.id}@${c.startedAt}`).sort();
    assert.deepEqual(after, before);
    assert.equal(status('adopt', 'app')?.restartCount, 0);
    assert.equal(pod('adopt')?.status?.phase, 'Running');
  });
});
