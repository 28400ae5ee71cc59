import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import type { Pod, PodSpec, ContainerStatus } from '../../../src/agent/api/object-types.ts';
import { BadRequest } from '../../../src/agent/api/errors.ts';
import { createFakeRuntime, type FakeRuntime, type FakeBehaviour } from '../../../src/agent/kubelet/fake-runtime.ts';
import { createKubelet, type Kubelet } from '../../../src/agent/kubelet/kubelet.ts';
import type { ContainerCreateSpec } from '../../../src/agent/kubelet/container-runtime.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { waitFor } from '../../support/wait-for.ts';
import { boundPod, testKubeletOptions } from './kubelet-harness.ts';

const NODE = 'node-a';
const IMAGE = 'mesh.local/busybox:latest';

interface Env {
  client: FakeObjectClient;
  runtime: FakeRuntime;
  kubelets: Kubelet[];
  behaviours: Map<string, (spec: ContainerCreateSpec) => FakeBehaviour | undefined>;
}

let env: Env;

function newKubelet(nodeName = NODE): Kubelet {
  const k = createKubelet(testKubeletOptions({ nodeName, client: env.client, runtime: env.runtime }));
  env.kubelets.push(k);
  return k;
}

async function createPod(name: string, spec: Partial<PodSpec>, nodeName = NODE): Promise<Pod> {
  return env.client.create<Pod>('pods', boundPod(name, nodeName, spec));
}

function pod(name: string): Pod | undefined {
  return env.client.get<Pod>('pods', 'default', name);
}

function cs(name: string, container: string): ContainerStatus | undefined {
  const s = pod(name)?.status;
  return [...(s?.containerStatuses ?? []), ...(s?.initContainerStatuses ?? [])].find((c) => c.name === container);
}

/** Behaviour by container name (the io.mesh.container.name label). */
function behave(container: string, fn: (spec: ContainerCreateSpec) => FakeBehaviour | undefined): void {
  env.behaviours.set(container, fn);
}

function containersOf(podName: string) {
  return env.runtime.all().filter((c) => c.labels['io.mesh.pod.name'] === podName);
}

async function readAll(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

const app = (name: string, extra: Record<string, unknown> = {}) => ({ name, image: IMAGE, imagePullPolicy: 'Never' as const, ...extra });

describe('kubelet (fake runtime)', { timeout: 20_000 }, () => {
  beforeEach(() => {
    const runtime = createFakeRuntime();
    runtime.addImage(IMAGE);
    env = { client: createFakeObjectClient(), runtime, kubelets: [], behaviours: new Map() };
    runtime.behave((spec) => env.behaviours.get(spec.labels['io.mesh.container.name'])?.(spec));
  });
  afterEach(async () => {
    for (const k of env.kubelets) await k.stop();
    await env.runtime.close();
  });

  it('runs a pod in a sandbox and reports Running with IPs, conditions and labels', async () => {
    await newKubelet().start();
    const created = await createPod('web', { containers: [app('app')] });
    const p = await waitFor(() => pod('web')?.status?.phase === 'Running' && pod('web'), 'Running');
    const st = p.status!;
    assert.match(st.podIP ?? '', /^10\.244\.0\.\d+$/);
    assert.deepEqual(st.podIPs, [{ ip: st.podIP }]);
    assert.equal(st.hostIP, '192.0.2.10');
    assert.equal(st.qosClass, 'BestEffort');
    assert.ok(st.startTime);
    const conds = Object.fromEntries((st.conditions ?? []).map((c) => [c.type, c.status]));
    assert.deepEqual(conds, { Initialized: 'True', Ready: 'True', ContainersReady: 'True', PodScheduled: 'True' });
    const c = st.containerStatuses![0];
    assert.equal(c.ready, true);
    assert.equal(c.started, true);
    assert.equal(c.restartCount, 0);
    assert.ok('running' in c.state);
    assert.match(c.containerID ?? '', /^fake:\/\/fake\d+$/);

    const all = containersOf('web');
    assert.equal(all.length, 2);
    const sandbox = all.find((x) => x.labels['io.mesh.container.kind'] === 'sandbox')!;
    const appC = all.find((x) => x.labels['io.mesh.container.kind'] === 'app')!;
    assert.equal(sandbox.ipAddresses.meshnet, st.podIP);
    assert.equal(env.runtime.specOf(sandbox.id)?.networkMode, 'meshnet');
    assert.equal(env.runtime.specOf(appC.id)?.networkMode, `container:${sandbox.id}`);
    for (const x of all) {
      assert.equal(x.labels['io.mesh.node'], NODE);
      assert.equal(x.labels['io.mesh.pod.uid'], created.metadata.uid);
      assert.equal(x.labels['io.mesh.pod.namespace'], 'default');
      assert.equal(x.labels['io.mesh.restart-count'], '0');
    }
    assert.equal(appC.labels['io.mesh.container.name'], 'app');
  });

  it('ignores pods bound to other nodes', async () => {
    await newKubelet().start();
    await createPod('elsewhere', { containers: [app('app')] }, 'node-b');
    await createPod('here', { containers: [app('app')] });
    await waitFor(() => pod('here')?.status?.phase === 'Running', 'here Running');
    assert.equal(pod('elsewhere')?.status, undefined);
    assert.equal(containersOf('elsewhere').length, 0);
  });

  it('runs init containers in order, keeps a sidecar running, then starts the app', async () => {
    behave('init1', () => ({ exitAfterMs: 30, exitCode: 0 }));
    behave('init2', () => ({ exitAfterMs: 30, exitCode: 0 }));
    await newKubelet().start();
    await createPod('init', {
      initContainers: [app('init1'), app('sidecar', { restartPolicy: 'Always' }), app('init2')],
      containers: [app('app')],
    });
    await waitFor(() => pod('init')?.status?.phase === 'Running', 'Running', 5000, () => pod('init')?.status);
    const order = env.runtime.calls
      .filter((c) => c.op === 'start')
      .map((c) => env.runtime.all().find((x) => x.id === c.id)?.labels['io.mesh.container.name']);
    assert.deepEqual(order, ['POD', 'init1', 'sidecar', 'init2', 'app']);
    const st = pod('init')!.status!;
    assert.equal(st.initContainerStatuses?.length, 3);
    const init1 = cs('init', 'init1')!;
    assert.ok('terminated' in init1.state && init1.state.terminated.reason === 'Completed');
    assert.equal(init1.ready, true);
    const sidecar = cs('init', 'sidecar')!;
    assert.ok('running' in sidecar.state);
    assert.equal(sidecar.ready, true);
    assert.equal(st.conditions?.find((c) => c.type === 'Initialized')?.status, 'True');
  });

  it('holds app containers back while an init container runs', async () => {
    await newKubelet().start();
    await createPod('slowinit', { initContainers: [app('wait')], containers: [app('app')] });
    await waitFor(() => cs('slowinit', 'wait')?.started, 'init running');
    // Give the kubelet a few syncs: the app must not start.
    await new Promise((r) => setTimeout(r, 300));
    const st = pod('slowinit')!.status!;
    assert.equal(st.phase, 'Pending');
    const initialized = st.conditions?.find((c) => c.type === 'Initialized');
    assert.equal(initialized?.status, 'False');
    assert.equal(initialized?.message, 'containers with incomplete status: [wait]');
    assert.deepEqual(cs('slowinit', 'app')?.state, { waiting: { reason: 'PodInitializing' } });
    assert.equal(containersOf('slowinit').filter((c) => c.labels['io.mesh.container.name'] === 'app').length, 0);
    // Completing the init container lets the app start.
    const initC = containersOf('slowinit').find((c) => c.labels['io.mesh.container.name'] === 'wait')!;
    env.runtime.exit(initC.id, 0);
    await waitFor(() => pod('slowinit')?.status?.phase === 'Running', 'Running');
  });

  it('restarts a crashing container with growing back-off and counts restarts', async () => {
    let attempt = 0;
    const starts: number[] = [];
    behave('app', () => {
      const n = attempt++;
      return { logs: [`attempt ${n}`], exitAfterMs: 5, exitCode: 2 };
    });
    const off = env.runtime.onEvent((e) => {
      if (e.type === 'start' && e.labels['io.mesh.container.name'] === 'app') starts.push(Date.now());
    });
    const k = newKubelet();
    await k.start();
    await createPod('crash', { containers: [app('app')] });
    const backoff = await waitFor(() => {
      const c = cs('crash', 'app');
      return c && c.restartCount >= 3 && 'waiting' in c.state && c.state.waiting.reason === 'CrashLoopBackOff' && c;
    }, 'CrashLoopBackOff after 3 restarts', 8000, () => pod('crash')?.status);
    off();
    assert.ok('waiting' in backoff.state);
    assert.match(backoff.state.waiting.message ?? '', /^back-off \d+ms restarting failed container=app pod=crash_default\(.+\)$/);
    assert.ok('terminated' in backoff.lastState);
    assert.equal(backoff.lastState.terminated.exitCode, 2);
    assert.equal(backoff.lastState.terminated.reason, 'Error');
    assert.equal(pod('crash')?.status?.phase, 'Running');
    // First restart is immediate; later ones wait initial, then twice that.
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    assert.ok(gaps.length >= 3, `saw ${gaps.length} restarts`);
    assert.ok(gaps[1] >= 55, `second restart waited ${gaps[1]} ms`);
    assert.ok(gaps[2] >= 115, `third restart waited ${gaps[2]} ms`);
    // Only the current and the previous instance are kept.
    const apps = containersOf('crash').filter((c) => c.labels['io.mesh.container.kind'] === 'app');
    assert.equal(apps.length, 2);
    // previous logs come from the instance before the newest one
    const p = pod('crash')!;
    const counts = apps.map((c) => Number(c.labels['io.mesh.restart-count'])).sort((a, b) => a - b);
    const current = await readAll(await k.streamLogs(p, {}));
    const previous = await readAll(await k.streamLogs(p, { previous: true }));
    assert.equal(current, `attempt ${counts[1]}\n`);
    assert.equal(previous, `attempt ${counts[0]}\n`);
  });

  it('follows restartPolicy Never and OnFailure to terminal phases with exit reasons', async () => {
    behave('fails', () => ({ exitAfterMs: 5, exitCode: 3 }));
    behave('ok', () => ({ exitAfterMs: 5, exitCode: 0 }));
    behave('oom', () => ({ exitAfterMs: 5, exitCode: 137, oomKilled: true }));
    await newKubelet().start();
    await createPod('never', { restartPolicy: 'Never', containers: [app('fails')] });
    await createPod('onfailure', { restartPolicy: 'OnFailure', containers: [app('ok')] });
    await createPod('oomed', { restartPolicy: 'Never', containers: [app('oom')] });
    await waitFor(() => pod('never')?.status?.phase === 'Failed', 'never Failed');
    await waitFor(() => pod('onfailure')?.status?.phase === 'Succeeded', 'onfailure Succeeded');
    await waitFor(() => pod('oomed')?.status?.phase === 'Failed', 'oomed Failed');
    const never = cs('never', 'fails')!;
    assert.ok('terminated' in never.state);
    assert.equal(never.state.terminated.exitCode, 3);
    assert.equal(never.state.terminated.reason, 'Error');
    assert.equal(never.restartCount, 0);
    const ok = cs('onfailure', 'ok')!;
    assert.ok('terminated' in ok.state && ok.state.terminated.reason === 'Completed');
    const oom = cs('oomed', 'oom')!;
    assert.ok('terminated' in oom.state && oom.state.terminated.reason === 'OOMKilled');
    // The sandbox of a finished pod is stopped, but the pod IP stays in status.
    await waitFor(() => containersOf('never').every((c) => c.state === 'exited'), 'all stopped');
    assert.ok(pod('never')?.status?.podIP);
    assert.equal(pod('never')?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'PodCompleted');
  });

  it('fails the pod when an init container fails under restartPolicy Never', async () => {
    behave('init', () => ({ exitAfterMs: 5, exitCode: 1 }));
    await newKubelet().start();
    await createPod('badinit', { restartPolicy: 'Never', initContainers: [app('init')], containers: [app('app')] });
    await waitFor(() => pod('badinit')?.status?.phase === 'Failed', 'Failed');
    assert.equal(containersOf('badinit').filter((c) => c.labels['io.mesh.container.kind'] === 'app').length, 0);
  });

  it('resolves env from values, ConfigMaps, Secrets, fields and envFrom; waits for missing config', async () => {
    await env.client.create('secrets', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'creds', namespace: 'default' },
      data: { password: Buffer.from('s3cret').toString('base64'), user: Buffer.from('admin').toString('base64') },
    });
    await newKubelet().start();
    await createPod('envpod', {
      containers: [
        app('app', {
          command: ['/bin/run', '$(GREETING)'],
          args: ['--user=$(DB_user)', '$$(NOT_EXPANDED)'],
          workingDir: '/srv',
          envFrom: [{ secretRef: { name: 'creds' }, prefix: 'DB_' }],
          env: [
            { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'greeting' } } },
            { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
            { name: 'TIER', valueFrom: { fieldRef: { fieldPath: "metadata.labels['tier']" } } },
            { name: 'MSG', value: '$(GREETING) from $(POD_NAME)' },
            { name: 'OPT', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'missing', optional: true } } },
          ],
        }),
      ],
    });
    const waiting = await waitFor(() => {
      const c = cs('envpod', 'app');
      return c && 'waiting' in c.state && c.state.waiting.reason === 'CreateContainerConfigError' && c.state.waiting;
    }, 'CreateContainerConfigError');
    assert.equal(waiting.message, 'configmap "cfg" not found');
    await env.client.create('configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cfg', namespace: 'default' },
      data: { greeting: 'hello' },
    });
    const p = await waitFor(() => pod('envpod')?.status?.phase === 'Running' && pod('envpod'), 'Running', 5000);
    const appC = containersOf('envpod').find((c) => c.labels['io.mesh.container.kind'] === 'app')!;
    const spec = env.runtime.specOf(appC.id)!;
    assert.deepEqual(spec.entrypoint, ['/bin/run', 'hello']);
    assert.deepEqual(spec.cmd, ['--user=admin', '$(NOT_EXPANDED)']);
    assert.equal(spec.workingDir, '/srv');
    const vars = Object.fromEntries(spec.env!.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    assert.deepEqual(vars, {
      DB_password: 's3cret',
      DB_user: 'admin',
      GREETING: 'hello',
      PASSWORD: 's3cret',
      POD_NAME: 'envpod',
      POD_NS: 'default',
      POD_IP: p.status!.podIP,
      NODE: NODE,
      TIER: '',
      MSG: 'hello from envpod',
    });
  });

  it('reports image pull failures: ErrImageNeverPull, ErrImagePull then ImagePullBackOff', async () => {
    env.runtime.pullError = 'manifest unknown: registry says no';
    await newKubelet().start();
    await createPod('never-pull', { containers: [{ name: 'app', image: 'mesh.local/absent:1', imagePullPolicy: 'Never' }] });
    await createPod('pull', { containers: [{ name: 'app', image: 'mesh.local/absent:2', imagePullPolicy: 'IfNotPresent' }] });
    const never = await waitFor(() => {
      const c = cs('never-pull', 'app');
      return c && 'waiting' in c.state && c.state.waiting.reason === 'ErrImageNeverPull' && c.state.waiting;
    }, 'ErrImageNeverPull');
    assert.equal(never.message, 'Container image "mesh.local/absent:1" is not present with pull policy of Never');
    // Record every waiting state written, so short-lived ones aren't missed by polling.
    const seen = new Set<string>();
    env.client.watch('pods', {}, (e) => {
      for (const c of (e.object as Pod).status?.containerStatuses ?? []) {
        if (e.object.metadata.name === 'pull' && 'waiting' in c.state) seen.add(`${c.state.waiting.reason}|${c.state.waiting.message}`);
      }
    });
    await waitFor(() => seen.size >= 2, 'both pull states', 3000, () => [...seen]);
    assert.ok(seen.has('ErrImagePull|manifest unknown: registry says no'), [...seen].join(', '));
    assert.ok(seen.has('ImagePullBackOff|Back-off pulling image "mesh.local/absent:2": ErrImagePull: manifest unknown: registry says no'), [...seen].join(', '));
    // Once the registry has it, the pod runs.
    env.runtime.allowPull('mesh.local/absent:2');
    await waitFor(() => pod('pull')?.status?.phase === 'Running', 'Running after pull');
    assert.ok(env.runtime.calls.filter((c) => c.op === 'pull').length >= 2);
  });

  it('deletes gracefully: SIGTERM with the grace period, containers removed, object deleted', async () => {
    behave('stubborn', () => ({ ignoreSigterm: true }));
    await newKubelet().start();
    const created = await createPod('bye', { terminationGracePeriodSeconds: 1, containers: [app('stubborn'), app('quick')] });
    await waitFor(() => pod('bye')?.status?.phase === 'Running', 'Running');
    const ids = containersOf('bye').map((c) => c.id);
    const t0 = Date.now();
    await env.client.delete('pods', 'default', 'bye');
    assert.ok(pod('bye')?.metadata.deletionTimestamp, 'marked, not removed');
    await waitFor(() => pod('bye') === undefined, 'object removed', 5000);
    assert.ok(Date.now() - t0 >= 900, 'waited for the stubborn container');
    assert.equal(containersOf('bye').length, 0);
    const stops = env.runtime.calls.filter((c) => c.op === 'stop' && ids.includes(c.id));
    assert.ok(stops.every((s) => s.timeoutSeconds === 1), JSON.stringify(stops));
    const del = env.client.writes.filter((w) => w.op === 'delete' && w.name === 'bye').at(-1)!;
    assert.deepEqual(del.opts, { gracePeriodSeconds: 0, preconditions: { uid: created.metadata.uid } });
  });

  it('removes the containers of a pod that vanishes from the API', async () => {
    await newKubelet().start();
    await createPod('gone', { containers: [app('app')] });
    await waitFor(() => pod('gone')?.status?.phase === 'Running', 'Running');
    await env.client.delete('pods', 'default', 'gone', { gracePeriodSeconds: 0 });
    await waitFor(() => containersOf('gone').length === 0, 'containers removed');
  });

  it('adopts running containers after a restart and removes those of vanished pods', async () => {
    const first = newKubelet();
    await first.start();
    await createPod('keep', { containers: [app('app')] });
    await createPod('drop', { containers: [app('app')] });
    await createPod('other-node', { containers: [app('app')] }, 'node-b');
    const second = newKubelet('node-b');
    await second.start();
    await waitFor(() => pod('keep')?.status?.phase === 'Running' && pod('drop')?.status?.phase === 'Running' && pod('other-node')?.status?.phase === 'Running', 'Running');
    await first.stop();
    await second.stop();
    const before = containersOf('keep').map((c) => c.id).sort();
    const otherBefore = containersOf('other-node').map((c) => c.id).sort();
    const writesBefore = env.client.writes.length;
    const createsBefore = env.runtime.calls.filter((c) => c.op === 'create').length;
    // While the agent is down the pod goes away.
    await env.client.delete('pods', 'default', 'drop', { gracePeriodSeconds: 0 });

    await newKubelet().start();
    await waitFor(() => containersOf('drop').length === 0, 'orphans removed');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(containersOf('keep').map((c) => c.id).sort(), before);
    assert.ok(containersOf('keep').every((c) => c.state === 'running'));
    assert.equal(env.runtime.calls.filter((c) => c.op === 'create').length, createsBefore, 'nothing recreated');
    assert.equal(cs('keep', 'app')?.restartCount, 0);
    assert.deepEqual(containersOf('other-node').map((c) => c.id).sort(), otherBefore, 'other nodes untouched');
    // Status was already right: the adopting kubelet has nothing to write.
    assert.equal(env.client.writes.slice(writesBefore).filter((w) => w.op === 'updateStatus' && w.name === 'keep').length, 0);
  });

  it('serves logs and rejects ambiguous or unknown containers', async () => {
    behave('a', () => ({ logs: ['line 1', 'line 2', 'line 3'] }));
    const k = newKubelet();
    await k.start();
    await createPod('logs', { containers: [app('a'), app('b')] });
    const p = await waitFor(() => pod('logs')?.status?.phase === 'Running' && pod('logs'), 'Running');
    assert.equal(await readAll(await k.streamLogs(p, { container: 'a' })), 'line 1\nline 2\nline 3\n');
    assert.equal(await readAll(await k.streamLogs(p, { container: 'a', tailLines: 1 })), 'line 3\n');
    assert.match(await readAll(await k.streamLogs(p, { container: 'a', tailLines: 1, timestamps: true })), /^\d{4}-\d\d-\d\dT[\d:.]+Z line 3\n$/);
    await assert.rejects(k.streamLogs(p, {}), (e: Error) => e instanceof BadRequest && /choose one of: \[a b\]/.test(e.message));
    await assert.rejects(k.streamLogs(p, { container: 'zzz' }), BadRequest);
    await assert.rejects(k.streamLogs(p, { container: 'a', previous: true }), /previous terminated container "a" in pod "logs" not found/);
    // follow: sees lines written later, ends when the container stops
    const stream = await k.streamLogs(p, { container: 'a', follow: true, tailLines: 0 });
    const appA = containersOf('logs').find((c) => c.labels['io.mesh.container.name'] === 'a')!;
    const collected = readAll(stream);
    env.runtime.writeLog(appA.id, 'later');
    env.runtime.exit(appA.id, 0);
    assert.equal(await collected, 'later\n');
  });
});
