// Probes, lifecycle hooks and Events through the whole kubelet, on the fake
// runtime. Probe "seconds" are shrunk to 20 ms so thresholds play out quickly.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerStatus, KubeObject, Pod, PodSpec } from '../../../src/agent/api/object-types.ts';
import { createFakeRuntime, type FakeRuntime } from '../../../src/agent/kubelet/fake-runtime.ts';
import { createKubelet, type Kubelet } from '../../../src/agent/kubelet/kubelet.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { waitFor } from '../../support/wait-for.ts';
import { boundPod, testKubeletOptions } from './kubelet-harness.ts';

const NODE = 'node-h';
const IMAGE = 'mesh.local/busybox:latest';

let client: FakeObjectClient;
let runtime: FakeRuntime;
let kubelet: Kubelet;
/** Whether exec `check` passes, per container name. */
let healthy: Map<string, boolean>;

interface EventObj extends KubeObject {
  reason: string;
  message: string;
  type: string;
  count: number;
  source: { component: string; host?: string };
  involvedObject: { name: string; uid?: string };
}

const pod = (name: string) => client.get<Pod>('pods', 'default', name);
const cs = (name: string, c = 'app'): ContainerStatus | undefined => pod(name)?.status?.containerStatuses?.find((s) => s.name === c);
const condition = (name: string, type: string) => pod(name)?.status?.conditions?.find((c) => c.type === type)?.status;
const events = (name: string) => client.list<EventObj>('events').items.filter((e) => e.involvedObject.name === name);
const hasEvent = (name: string, reason: string, message?: RegExp) => events(name).some((e) => e.reason === reason && (!message || message.test(e.message)));

async function createPod(name: string, spec: Partial<PodSpec>): Promise<Pod> {
  return client.create<Pod>('pods', boundPod(name, NODE, { terminationGracePeriodSeconds: 1, ...spec }));
}

const check = { exec: { command: ['check'] }, periodSeconds: 1, timeoutSeconds: 5, successThreshold: 1, failureThreshold: 2 };
const app = (extra: Record<string, unknown> = {}) => ({ name: 'app', image: IMAGE, imagePullPolicy: 'IfNotPresent' as const, ...extra });

describe('kubelet health: probes, hooks, events (fake runtime)', { timeout: 20_000 }, () => {
  beforeEach(async () => {
    client = createFakeObjectClient();
    runtime = createFakeRuntime();
    runtime.addImage(IMAGE);
    healthy = new Map();
    runtime.onExec((c, cmd) => {
      if (cmd[0] === 'check') return { exitCode: healthy.get(c.labels['io.mesh.container.name']) === false ? 1 : 0, output: 'check said so' };
      if (cmd[0] === 'fail') return { exitCode: 2, output: 'hook broke' };
      return { exitCode: 0 };
    });
    kubelet = createKubelet(testKubeletOptions({ nodeName: NODE, client, runtime, backoff: { initialMs: 50, maxMs: 100 }, probes: { secondMs: 20 } }));
    await kubelet.start();
  });
  afterEach(async () => {
    await kubelet.stop();
    await runtime.close();
  });

  it('records Pulled, Created and Started events from the kubelet of this node', async () => {
    await createPod('ev', { containers: [app()] });
    await waitFor(() => hasEvent('ev', 'Started'), 'Started event');
    const mine = events('ev');
    assert.ok(mine.some((e) => e.reason === 'Pulled' && e.message === `Container image "${IMAGE}" already present on machine`));
    assert.ok(mine.some((e) => e.reason === 'Created' && e.message === 'Created container: app'));
    assert.ok(mine.some((e) => e.reason === 'Started' && e.message === 'Started container app'));
    for (const e of mine) assert.deepEqual(e.source, { component: 'kubelet', host: NODE });
  });

  it('a failing liveness probe kills and restarts the container with Unhealthy and Killing events', async () => {
    await createPod('live', { containers: [app({ livenessProbe: check })] });
    await waitFor(() => cs('live')?.state && 'running' in cs('live')!.state, 'running');
    healthy.set('app', false);
    await waitFor(() => (cs('live')?.restartCount ?? 0) >= 1, 'restart after liveness failure', 5000, () => pod('live')?.status);
    healthy.set('app', true);
    const st = cs('live')!;
    assert.ok('terminated' in st.lastState, 'lastState records the killed instance');
    const term = (st.lastState as { terminated: { exitCode: number; reason: string } }).terminated;
    assert.equal(term.exitCode, 143, 'the fake exits on SIGTERM with 143');
    assert.equal(term.reason, 'Error');
    assert.ok(hasEvent('live', 'Unhealthy', /^Liveness probe failed: check said so$/));
    assert.ok(hasEvent('live', 'Killing', /^Container app failed liveness probe, will be restarted$/));
    const unhealthy = events('live').find((e) => e.reason === 'Unhealthy')!;
    assert.equal(unhealthy.type, 'Warning');
    assert.ok(unhealthy.count >= 2, 'repeats are counted on one Event');
    // The stop went through the grace period of the pod.
    assert.ok(runtime.calls.some((c) => c.op === 'stop' && c.timeoutSeconds === 1));
  });

  it('restartPolicy Never: a liveness failure ends the container for good', async () => {
    await createPod('never', { restartPolicy: 'Never', containers: [app({ livenessProbe: check })] });
    await waitFor(() => cs('never')?.state && 'running' in cs('never')!.state, 'running');
    healthy.set('app', false);
    await waitFor(() => pod('never')?.status?.phase === 'Failed', 'Failed', 5000, () => pod('never')?.status);
    assert.equal(cs('never')?.restartCount, 0);
  });

  it('readiness drives ready, ContainersReady and Ready while the container keeps running', async () => {
    healthy.set('app', false);
    await createPod('ready', { containers: [app({ readinessProbe: { ...check, failureThreshold: 1 } })] });
    await waitFor(() => cs('ready')?.state && 'running' in cs('ready')!.state, 'running');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(cs('ready')?.ready, false, 'not ready before a successful check');
    assert.equal(condition('ready', 'Ready'), 'False');
    healthy.set('app', true);
    await waitFor(() => condition('ready', 'Ready') === 'True', 'Ready');
    assert.equal(condition('ready', 'ContainersReady'), 'True');
    assert.equal(cs('ready')?.ready, true);
    healthy.set('app', false);
    await waitFor(() => condition('ready', 'Ready') === 'False', 'Ready goes False');
    assert.equal(cs('ready')?.ready, false);
    assert.ok('running' in cs('ready')!.state, 'still running');
    assert.equal(cs('ready')?.restartCount, 0, 'readiness never restarts');
    assert.ok(hasEvent('ready', 'Unhealthy', /^Readiness probe failed:/));
  });

  it('a startup probe holds off liveness: started stays false, and no kill happens, until it succeeds', async () => {
    healthy.set('app', false);
    await createPod('slow', {
      containers: [app({ startupProbe: { exec: { command: ['started'] }, periodSeconds: 1, failureThreshold: 100 }, livenessProbe: { ...check, failureThreshold: 1 } })],
    });
    let startupOk = false;
    runtime.onExec((c, cmd) => {
      if (cmd[0] === 'started') return { exitCode: startupOk ? 0 : 1, output: 'not yet' };
      if (cmd[0] === 'check') return { exitCode: healthy.get(c.labels['io.mesh.container.name']) === false ? 1 : 0, output: 'dead' };
      return { exitCode: 0 };
    });
    await waitFor(() => cs('slow')?.state && 'running' in cs('slow')!.state, 'running');
    await new Promise((r) => setTimeout(r, 300)); // 15 probe periods
    assert.equal(cs('slow')?.started, false);
    assert.equal(cs('slow')?.ready, false);
    assert.equal(cs('slow')?.restartCount, 0, 'liveness did not run before startup succeeded');
    assert.ok(!runtime.calls.some((c) => c.op === 'exec' && c.cmd?.[0] === 'check'));
    healthy.set('app', true);
    startupOk = true;
    await waitFor(() => cs('slow')?.started === true && cs('slow')?.ready === true, 'started and ready');
    assert.ok(hasEvent('slow', 'Unhealthy', /^Startup probe failed: not yet$/));
  });

  it('runs postStart after the start; a failing postStart kills the container (FailedPostStartHook)', async () => {
    await createPod('hook', { containers: [app({ lifecycle: { postStart: { exec: { command: ['fail'] } } } })] });
    await waitFor(() => (cs('hook')?.restartCount ?? 0) >= 1, 'restarted after the hook failed', 5000, () => pod('hook')?.status);
    assert.ok(hasEvent('hook', 'FailedPostStartHook', /^Exec lifecycle hook \(\[fail\]\) for Container "app" in Pod "hook_default\(.+\)" failed - error: hook broke/));
    assert.ok(hasEvent('hook', 'Killing', /^FailedPostStartHook$/));
    const first = runtime.calls.findIndex((c) => c.op === 'start' && runtime.specOf(c.id)?.labels['io.mesh.container.name'] === 'app');
    const hookRun = runtime.calls.findIndex((c) => c.op === 'exec' && c.cmd?.[0] === 'fail');
    assert.ok(first >= 0 && hookRun > first, 'the hook runs after the start');
  });

  it('runs preStop before SIGTERM on deletion, with a Killing event', async () => {
    await createPod('bye', { containers: [app({ lifecycle: { preStop: { exec: { command: ['goodbye'] } } } })] });
    await waitFor(() => cs('bye')?.state && 'running' in cs('bye')!.state, 'running');
    const appId = runtime.all().find((c) => c.labels['io.mesh.pod.name'] === 'bye' && c.labels['io.mesh.container.kind'] === 'app')!.id;
    await client.delete('pods', 'default', 'bye');
    await waitFor(() => !pod('bye'), 'pod removed');
    const hook = runtime.calls.findIndex((c) => c.op === 'exec' && c.id === appId && c.cmd?.[0] === 'goodbye');
    const stop = runtime.calls.findIndex((c) => c.op === 'stop' && c.id === appId);
    assert.ok(hook >= 0, 'preStop ran');
    assert.ok(stop > hook, 'SIGTERM came after preStop');
    assert.ok(hasEvent('bye', 'Killing', /^Stopping container app$/));
  });

  it('a crashing container gets BackOff events, and a failed preStop a FailedPreStopHook event', async () => {
    runtime.behave((spec) => (spec.labels['io.mesh.container.name'] === 'crash' ? { exitAfterMs: 5, exitCode: 1 } : undefined));
    await createPod('crashy', {
      containers: [app({ name: 'crash' }), app({ lifecycle: { preStop: { exec: { command: ['fail'] } } } })],
    });
    await waitFor(() => hasEvent('crashy', 'BackOff', /^Back-off restarting failed container crash in pod crashy_default\(.+\)$/), 'BackOff event');
    await client.delete('pods', 'default', 'crashy');
    await waitFor(() => !pod('crashy'), 'pod removed');
    assert.ok(hasEvent('crashy', 'FailedPreStopHook', /^Exec lifecycle hook \(\[fail\]\) for Container "app"/));
  });
});
