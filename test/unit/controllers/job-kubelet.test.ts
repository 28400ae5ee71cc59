// The Job controller with a real kubelet (on the fake runtime), the garbage
// collector and the registry's deletion rules: pods holding the tracking
// finalizer are never left stuck, and their counts survive their deletion.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry, type Registry } from '../../../src/agent/api/registry.ts';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createControllerManager, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import { createGarbageCollector } from '../../../src/agent/controllers/garbage-collector.ts';
import { createJobController, type Job } from '../../../src/agent/controllers/job-controller.ts';
import { createFakeRuntime, type FakeRuntime } from '../../../src/agent/kubelet/fake-runtime.ts';
import { createKubelet, type Kubelet } from '../../../src/agent/kubelet/kubelet.ts';
import { testKubeletOptions } from '../kubelet/kubelet-harness.ts';
import { waitFor } from '../../support/wait-for.ts';

const NODE = 'node-a';
const IMAGE = 'mesh.local/busybox:latest';
const JOBS = 'jobs.batch';
const TRACKING = 'batch.kubernetes.io/job-tracking';

interface Env {
  registry: Registry;
  runtime: FakeRuntime;
  kubelet: Kubelet;
  mgr: ControllerManager;
  unbind: () => void;
}

let env: Env | undefined;
afterEach(async () => {
  if (!env) return;
  env.unbind();
  await env.mgr.stop();
  await env.kubelet.stop();
  await env.runtime.close();
  env = undefined;
});

async function setup(): Promise<Env> {
  const store = createMemoryStore();
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger() });
  await registry.ensureDefaultNamespaces();
  const runtime = createFakeRuntime();
  runtime.addImage(IMAGE);
  const kubelet = createKubelet(testKubeletOptions({ nodeName: NODE, client: registry, runtime }));
  await kubelet.start();
  // The scheduler's part: every new pod goes to the one node.
  const unbind = registry.watch('pods', {}, (e) => {
    const p = e.object as Pod;
    if (e.type === 'ADDED' && !p.spec.nodeName) void registry.bind('default', p.metadata.name!, NODE).catch(() => undefined);
  });
  const jc = createJobController({ client: registry, logger: silentLogger(), podFailureBackoffMs: 20, maxPodFailureBackoffMs: 100 });
  const gc = createGarbageCollector({ client: registry, logger: silentLogger(), orphanGraceMs: 100 });
  const mgr = createControllerManager({ client: registry, logger: silentLogger(), controllers: [jc, gc], baseDelayMs: 5, maxDelayMs: 50 });
  await mgr.start();
  env = { registry, runtime, kubelet, mgr, unbind };
  return env;
}

function job(name: string, spec: Partial<Job['spec']> = {}): Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default' },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'work', image: IMAGE, imagePullPolicy: 'Never' }] } }, ...spec },
  };
}

const podsOf = (e: Env, name: string) => e.registry.list<Pod>('pods', { labelSelector: `job-name=${name}` }).items;
const getJob = (e: Env, name: string) => e.registry.get<Job>(JOBS, 'default', name);
const conditionTrue = (j: Job | undefined, type: string) => !!j?.status?.conditions?.some((c) => c.type === type && c.status === 'True');

describe('job pods on a kubelet', { timeout: 20_000 }, () => {
  it('a running pod deleted by a user goes, counts as failed, and its replacement completes the Job', async () => {
    const e = await setup();
    let started = 0;
    // The first container runs until stopped; the replacement succeeds at once.
    e.runtime.behave((spec) => {
      if (spec.labels['io.mesh.container.name'] !== 'work') return undefined;
      return ++started === 1 ? undefined : { exitAfterMs: 20, exitCode: 0 };
    });
    await e.registry.create(JOBS, job('pi'));
    const first = await waitFor(() => podsOf(e, 'pi').find((p) => p.status?.phase === 'Running'), 'the first pod running');
    assert.ok(first.metadata.finalizers?.includes(TRACKING));
    await e.registry.delete('pods', 'default', first.metadata.name!);
    await waitFor(() => !e.registry.get('pods', 'default', first.metadata.name!), 'the deleted pod gone', 5000, () => e.registry.get('pods', 'default', first.metadata.name!));
    await waitFor(() => conditionTrue(getJob(e, 'pi'), 'Complete'), 'the Job complete', 5000, () => getJob(e, 'pi')?.status);
    const j = getJob(e, 'pi')!;
    assert.deepEqual([j.status?.succeeded, j.status?.failed, j.status?.active], [1, 1, 0]);
    const left = podsOf(e, 'pi');
    assert.equal(left.length, 1);
    assert.equal(left[0]!.status?.phase, 'Succeeded');
    assert.ok(!left[0]!.metadata.finalizers?.includes(TRACKING), 'a counted pod keeps no finalizer');
  });

  it('a running Job deleted in the foreground ends with neither pods nor Job', async () => {
    const e = await setup();
    await e.registry.create(JOBS, job('fg', { parallelism: 2, completions: 2 }));
    await waitFor(() => podsOf(e, 'fg').filter((p) => p.status?.phase === 'Running').length === 2, 'two pods running');
    await e.registry.delete(JOBS, 'default', 'fg', { propagationPolicy: 'Foreground' });
    await waitFor(() => !getJob(e, 'fg') && podsOf(e, 'fg').length === 0, 'pods and Job gone', 5000, () => podsOf(e, 'fg').map((p) => p.metadata));
    await waitFor(() => e.runtime.all().every((c) => c.state !== 'running'), 'no container left running');
  });

  it('a running Job deleted in the background leaves no pod behind', async () => {
    const e = await setup();
    await e.registry.create(JOBS, job('bg'));
    await waitFor(() => podsOf(e, 'bg').some((p) => p.status?.phase === 'Running'), 'the pod running');
    await e.registry.delete(JOBS, 'default', 'bg', { propagationPolicy: 'Background' });
    await waitFor(() => podsOf(e, 'bg').length === 0, 'the pod collected', 5000, () => podsOf(e, 'bg').map((p) => p.metadata));
  });
});
