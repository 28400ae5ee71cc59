// Probes, lifecycle hooks and kubelet Events on real Docker: the kubelet on the
// Docker runtime (probes reach the pod IP on the bridge; exec runs in the
// container), and one real agent read with the real kubectl. Each run uses its
// own node names and removes every container labelled with them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import type { ContainerStatus, KubeObject, Pod, PodSpec } from '../../src/agent/api/object-types.ts';
import type { ContainerRuntime } from '../../src/agent/kubelet/container-runtime.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../support/fake-object-client.ts';
import { useDockerKubelets, type DockerKubelets } from '../support/docker-kubelets.ts';
import { waitFor } from '../support/wait-for.ts';
import { kubectl, startAgentProcess, waitFor as waitForAsync, type AgentProcess } from '../support/agent-process.ts';

const IMAGE = 'mesh.local/busybox:latest';
const NODE = `e2e-health-${process.pid}-${Date.now().toString(36)}`;
// Exits at once on SIGTERM, so kills take no grace period.
const LOOP = 'while true; do sleep 0.1; done';

let runtime: ContainerRuntime;
let kubelets: DockerKubelets;
let client: FakeObjectClient;

interface EventObj extends KubeObject {
  reason: string;
  message: string;
  involvedObject: { name: string };
}

async function startKubelet(): Promise<void> {
  client = createFakeObjectClient();
  await kubelets.kubelet(client).start();
}
const createPod = (name: string, spec: Partial<PodSpec>) => kubelets.createPod(client, name, spec);

const pod = (name: string) => client.get<Pod>('pods', 'default', name);
const cs = (name: string): ContainerStatus | undefined => pod(name)?.status?.containerStatuses?.[0];
const running = (name: string) => Boolean(cs(name) && 'running' in cs(name)!.state);
const condition = (name: string, type: string) => pod(name)?.status?.conditions?.find((c) => c.type === type)?.status;
const events = (name: string) => client.list<EventObj>('events').items.filter((e) => e.involvedObject.name === name);
const hasEvent = (name: string, reason: string, message?: RegExp) => events(name).some((e) => e.reason === reason && (!message || message.test(e.message)));
const sh = (script: string, extra: Record<string, unknown> = {}) => ({
  name: 'app',
  image: IMAGE,
  imagePullPolicy: 'IfNotPresent' as const,
  command: ['sh', '-c', script],
  ...extra,
});

async function readToEnd(stream: Readable, timeoutMs: number): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`log stream did not end; got ${JSON.stringify(text)}`)), timeoutMs);
    stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
    stream.on('end', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

describe('health probes and hooks on Docker', { timeout: 150_000 }, () => {
  kubelets = useDockerKubelets(NODE, { podDefaults: { terminationGracePeriodSeconds: 2 }, removeAfterEach: true });
  runtime = kubelets.runtime;

  it('a failing liveness probe restarts the container, with Unhealthy and Killing events', { timeout: 40_000 }, async () => {
    await startKubelet();
    // Healthy for a second, then the file the probe checks goes away.
    await createPod('live', {
      containers: [
        sh(`touch /tmp/healthy; sleep 1; rm /tmp/healthy; ${LOOP}`, {
          livenessProbe: { exec: { command: ['test', '-f', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 5 },
        }),
      ],
    });
    await waitFor(() => (cs('live')?.restartCount ?? 0) >= 1, 'a restart', 30_000, () => pod('live')?.status);
    assert.ok(hasEvent('live', 'Unhealthy', /^Liveness probe failed:/), JSON.stringify(events('live').map((e) => e.reason)));
    assert.ok(hasEvent('live', 'Killing', /^Container app failed liveness probe, will be restarted$/));
    assert.ok(hasEvent('live', 'Started', /^Started container app$/));
    const last = cs('live')!.lastState as { terminated?: { exitCode: number; reason: string } };
    assert.ok(last.terminated, 'lastState holds the killed instance');
    assert.equal(last.terminated.reason, 'Error');
    assert.equal(last.terminated.exitCode, 137, 'sh as PID 1 ignores SIGTERM, so the kill was a SIGKILL');
  });

  it('a failing readiness probe drops the pod out of Ready while the container keeps running', { timeout: 40_000 }, async () => {
    await startKubelet();
    // httpd serves /www; the file the probe fetches is deleted after 3 s.
    await createPod('ready', {
      containers: [
        sh(`mkdir -p /www; echo ok > /www/ready; httpd -p 8080 -h /www; sleep 3; rm /www/ready; ${LOOP}`, {
          ports: [{ name: 'web', containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/ready', port: 'web', scheme: 'HTTP' }, periodSeconds: 1, failureThreshold: 1, timeoutSeconds: 2 },
        }),
      ],
    });
    await waitFor(() => condition('ready', 'Ready') === 'True', 'Ready', 20_000, () => pod('ready')?.status);
    assert.equal(cs('ready')?.ready, true);
    await waitFor(() => condition('ready', 'Ready') === 'False', 'Ready goes False', 20_000, () => pod('ready')?.status);
    assert.equal(condition('ready', 'ContainersReady'), 'False');
    assert.equal(cs('ready')?.ready, false);
    assert.ok(running('ready'), 'the container keeps running');
    assert.equal(cs('ready')?.restartCount, 0);
    assert.ok(hasEvent('ready', 'Unhealthy', /^Readiness probe failed: HTTP probe failed with statuscode: 404$/));
  });

  it('a startup probe holds off a liveness probe that would fail before startup', { timeout: 40_000 }, async () => {
    await startKubelet();
    const started = { exec: { command: ['test', '-f', '/tmp/started'] }, periodSeconds: 1, timeoutSeconds: 5 };
    await createPod('slow', {
      containers: [
        sh(`sleep 4; touch /tmp/started; ${LOOP}`, {
          startupProbe: { ...started, failureThreshold: 20 },
          // Alone, this would kill the container after its first check.
          livenessProbe: { ...started, failureThreshold: 1 },
        }),
      ],
    });
    await waitFor(() => running('slow'), 'running', 20_000);
    assert.equal(cs('slow')?.started, false, 'not started before the startup probe succeeds');
    await waitFor(() => cs('slow')?.started === true, 'started', 20_000, () => pod('slow')?.status);
    await new Promise((r) => setTimeout(r, 2000)); // liveness now runs, and passes
    assert.equal(cs('slow')?.restartCount, 0);
    assert.ok(running('slow'));
    assert.ok(!hasEvent('slow', 'Killing'));
    assert.ok(hasEvent('slow', 'Unhealthy', /^Startup probe failed:/));
    assert.ok(!hasEvent('slow', 'Unhealthy', /^Liveness probe failed:/));
  });

  it('a preStop hook runs before SIGTERM on deletion', { timeout: 40_000 }, async () => {
    await startKubelet();
    await createPod('bye', {
      containers: [
        sh('trap \'echo "TERM after: $(cat /tmp/marker 2>/dev/null || echo nothing)"; exit 0\' TERM; echo up; while true; do sleep 0.1; done', {
          lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo prestop > /tmp/marker'] } } },
        }),
      ],
    });
    await waitFor(() => running('bye'), 'running', 20_000);
    const id = cs('bye')!.containerID!.replace(/^docker:\/\//, '');
    const logs = await runtime.logs(id, { follow: true });
    const text = readToEnd(logs, 20_000);
    await client.delete('pods', 'default', 'bye');
    assert.match(await text, /up\nTERM after: prestop\n/);
    await waitFor(() => !pod('bye'), 'pod removed', 20_000);
    assert.ok(hasEvent('bye', 'Killing', /^Stopping container app$/));
    assert.ok(!hasEvent('bye', 'FailedPreStopHook'));
  });
});

describe('kubectl describe pod shows kubelet events (real agent)', { timeout: 120_000 }, () => {
  let agent: AgentProcess | undefined;
  after(async () => {
    await agent?.destroy();
  });

  it('lists Scheduled, Pulled, Created, Started, Unhealthy and Killing', { timeout: 100_000 }, async () => {
    agent = await startAgentProcess({ prefix: 'e2e-health' });
    const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: sick
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: ${IMAGE}
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    livenessProbe:
      exec:
        command: ["false"]
      periodSeconds: 1
      failureThreshold: 2
`;
    const applied = await kubectl(agent, ['apply', '-f', '-'], manifest);
    assert.equal(applied.code, 0, applied.stderr);
    const out = await waitForAsync(
      'describe with Killing',
      async () => {
        const r = await kubectl(agent!, ['describe', 'pod', 'sick']);
        return r.code === 0 && /Killing/.test(r.stdout) && r.stdout;
      },
      60_000,
    );
    assert.match(out, /Events:/);
    for (const reason of ['Scheduled', 'Pulled', 'Created', 'Started', 'Unhealthy', 'Killing']) assert.match(out, new RegExp(`\\b${reason}\\b`), `describe shows ${reason}:\n${out}`);
    assert.match(out, /kubelet\s+Liveness probe failed/);
    assert.match(out, /Container app failed liveness probe, will be restarted/);
    const del = await kubectl(agent, ['delete', 'pod', 'sick', '--wait=false']);
    assert.equal(del.code, 0, del.stderr);
  });
});
