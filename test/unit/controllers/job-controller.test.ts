import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry, type Registry } from '../../../src/agent/api/registry.ts';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createControllerManager, type Controller, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import { createGarbageCollector } from '../../../src/agent/controllers/garbage-collector.ts';
import { createJobController, type Job, type JobCondition } from '../../../src/agent/controllers/job-controller.ts';
import { resolveEnv } from '../../../src/agent/kubelet/env.ts';

const T0 = Date.parse('2026-04-01T08:00:00Z');
const JOBS = 'jobs.batch';
const TRACKING = 'batch.kubernetes.io/job-tracking';
const INDEX = 'batch.kubernetes.io/job-completion-index';
const GRACE = 5000;

interface Env {
  registry: Registry;
  clock: { now: number };
  mgr: ControllerManager;
  jc: Controller;
}

const managers: ControllerManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
});

async function setup(opts: { gc?: boolean } = {}): Promise<Env> {
  const clock = { now: T0 };
  const now = () => new Date(clock.now);
  const store = createMemoryStore();
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger(), clock: now });
  await registry.ensureDefaultNamespaces();
  const jc = createJobController({ client: registry, logger: silentLogger(), clock: now, orphanGraceMs: GRACE });
  const controllers = [jc];
  if (opts.gc) controllers.push(createGarbageCollector({ client: registry, logger: silentLogger(), clock: now, orphanGraceMs: GRACE }));
  const mgr = createControllerManager({ client: registry, logger: silentLogger(), controllers, baseDelayMs: 5, maxDelayMs: 50 });
  managers.push(mgr);
  await mgr.start();
  return { registry, clock, mgr, jc };
}

function job(name: string, spec: Partial<Job['spec']> = {}): Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default' },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1' }] } }, ...spec },
  };
}

const getJob = (env: Env, name: string) => env.registry.get<Job>(JOBS, 'default', name);
const podsOf = (env: Env, name: string) => env.registry.list<Pod>('pods', { labelSelector: `job-name=${name}` }).items;
const running = (pods: Pod[]) => pods.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
const condition = (j: Job | undefined, type: string): JobCondition | undefined => j?.status?.conditions?.find((c) => c.type === type && c.status === 'True');
const indexOf = (p: Pod) => Number(p.metadata.annotations?.[INDEX]);
const tracked = (p: Pod) => p.metadata.finalizers?.includes(TRACKING) ?? false;

/** The fake kubelet: ends the pod in this phase, its container finishing now. */
async function finishPod(env: Env, p: Pod, phase: 'Succeeded' | 'Failed'): Promise<void> {
  const finishedAt = new Date(env.clock.now).toISOString();
  const terminated = { exitCode: phase === 'Succeeded' ? 0 : 1, finishedAt };
  const containerStatuses = [{ name: 'c', state: { terminated }, lastState: {}, ready: false, restartCount: 0, image: 'busybox:1', imageID: '' }];
  await env.registry.updateStatus<Pod>('pods', { ...p, status: { ...p.status, phase, containerStatuses } });
}

/** Ends up to n running pods of the job in this phase. */
async function finishPods(env: Env, name: string, phase: 'Succeeded' | 'Failed', n = Infinity): Promise<number> {
  let done = 0;
  for (const p of running(podsOf(env, name))) {
    if (done >= n) break;
    await finishPod(env, p, phase);
    done++;
  }
  await env.mgr.idle();
  return done;
}

async function advance(env: Env, ms: number): Promise<void> {
  env.clock.now += ms;
  env.mgr.resync();
  await env.mgr.idle();
}

describe('job controller', () => {
  it('runs parallelism 2 until 4 completions, never more active than remaining', async () => {
    const env = await setup();
    const created = await env.registry.create<Job>(JOBS, job('pi', { completions: 4, parallelism: 2 }));
    await env.mgr.idle();
    const first = podsOf(env, 'pi');
    assert.equal(first.length, 2);
    for (const p of first) {
      assert.equal(p.metadata.labels?.['job-name'], 'pi');
      assert.equal(p.metadata.labels?.['controller-uid'], created.metadata.uid);
      assert.ok(tracked(p), 'pods carry the tracking finalizer');
      const ref = p.metadata.ownerReferences?.[0];
      assert.deepEqual([ref?.kind, ref?.apiVersion, ref?.uid, ref?.controller], ['Job', 'batch/v1', created.metadata.uid, true]);
    }
    assert.equal(getJob(env, 'pi')?.status?.active, 2);
    assert.equal(getJob(env, 'pi')?.status?.startTime, new Date(T0).toISOString().replace(/\.\d+Z$/, 'Z'));
    for (let succeeded = 1; succeeded <= 4; succeeded++) {
      assert.equal(await finishPods(env, 'pi', 'Succeeded', 1), 1);
      const j = getJob(env, 'pi')!;
      assert.equal(j.status?.succeeded, succeeded);
      assert.deepEqual(j.status?.uncountedTerminatedPods, {});
      assert.equal(running(podsOf(env, 'pi')).length, Math.min(2, 4 - succeeded), `after ${succeeded} succeeded`);
      assert.equal(j.status?.active, Math.min(2, 4 - succeeded));
      assert.equal(!!condition(j, 'Complete'), succeeded === 4);
    }
    const j = getJob(env, 'pi')!;
    assert.equal(podsOf(env, 'pi').length, 4);
    assert.ok(podsOf(env, 'pi').every((p) => !tracked(p)), 'counted pods lose the finalizer');
    assert.ok(condition(j, 'SuccessCriteriaMet'));
    assert.equal(condition(j, 'Complete')?.reason, 'CompletionsReached');
    assert.ok(j.status?.completionTime);
    assert.equal(condition(j, 'Failed'), undefined);
  });

  it('keeps its counts when finished pods are deleted', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('keep', { completions: 2, parallelism: 1 }));
    await env.mgr.idle();
    await finishPods(env, 'keep', 'Succeeded', 1);
    for (const p of podsOf(env, 'keep').filter((x) => x.status?.phase === 'Succeeded')) await env.registry.delete('pods', 'default', p.metadata.name!);
    await env.mgr.idle();
    assert.equal(getJob(env, 'keep')?.status?.succeeded, 1);
    assert.equal(podsOf(env, 'keep').length, 1, 'only the second pod, and no replacement for the deleted one');
    await finishPods(env, 'keep', 'Succeeded');
    for (const p of podsOf(env, 'keep')) await env.registry.delete('pods', 'default', p.metadata.name!);
    await advance(env, 60_000);
    const j = getJob(env, 'keep')!;
    assert.equal(j.status?.succeeded, 2);
    assert.ok(condition(j, 'Complete'));
    assert.equal(podsOf(env, 'keep').length, 0);
  });

  it('counts a pod deleted while running as failed, once, and replaces it after the back-off', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('evicted'));
    await env.mgr.idle();
    const [victim] = podsOf(env, 'evicted');
    await env.registry.delete('pods', 'default', victim!.metadata.name!);
    await env.mgr.idle();
    assert.equal(env.registry.get('pods', 'default', victim!.metadata.name!), undefined, 'the finalizer went, and with it the pod');
    assert.equal(getJob(env, 'evicted')?.status?.failed, 1);
    assert.equal(podsOf(env, 'evicted').length, 0, 'the replacement waits for the back-off');
    await advance(env, 10_000);
    assert.equal(running(podsOf(env, 'evicted')).length, 1);
    for (let i = 0; i < 3; i++) await advance(env, 1000);
    assert.equal(getJob(env, 'evicted')?.status?.failed, 1);
  });

  it('backs off 10 s before replacing a failed pod, doubling per consecutive failure', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('flaky', { backoffLimit: 10 }));
    await env.mgr.idle();
    for (const delay of [10_000, 20_000, 40_000, 80_000]) {
      await finishPods(env, 'flaky', 'Failed');
      assert.deepEqual(await env.jc.reconcile('default/flaky'), { requeueAfterMs: delay });
      await advance(env, delay - 1000);
      assert.equal(running(podsOf(env, 'flaky')).length, 0, `no replacement before ${delay} ms`);
      assert.deepEqual(await env.jc.reconcile('default/flaky'), { requeueAfterMs: 1000 });
      await advance(env, 1000);
      assert.equal(running(podsOf(env, 'flaky')).length, 1, `a replacement after ${delay} ms`);
    }
    assert.equal(getJob(env, 'flaky')?.status?.failed, 4);
  });

  it('a success resets the back-off', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('mixed', { completions: 3, parallelism: 1 }));
    await env.mgr.idle();
    await finishPods(env, 'mixed', 'Failed');
    await advance(env, 10_000);
    await finishPods(env, 'mixed', 'Succeeded');
    assert.equal(running(podsOf(env, 'mixed')).length, 1, 'the next pod starts at once');
    await finishPods(env, 'mixed', 'Failed');
    assert.deepEqual(await env.jc.reconcile('default/mixed'), { requeueAfterMs: 10_000 }, 'one failure since the success');
  });

  it('replaces failed pods up to backoffLimit, then fails with BackoffLimitExceeded', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('doomed', { backoffLimit: 2 }));
    await env.mgr.idle();
    for (let failed = 1; failed <= 2; failed++) {
      await finishPods(env, 'doomed', 'Failed');
      const j = getJob(env, 'doomed')!;
      assert.equal(j.status?.failed, failed);
      assert.equal(condition(j, 'Failed'), undefined);
      await advance(env, 600_000);
      assert.equal(running(podsOf(env, 'doomed')).length, 1, 'a replacement runs');
    }
    await finishPods(env, 'doomed', 'Failed');
    const j = getJob(env, 'doomed')!;
    assert.equal(j.status?.failed, 3);
    assert.equal(condition(j, 'Failed')?.reason, 'BackoffLimitExceeded');
    assert.equal(condition(j, 'FailureTarget')?.reason, 'BackoffLimitExceeded');
    assert.equal(condition(j, 'Complete'), undefined);
    assert.equal(j.status?.completionTime, undefined);
    assert.equal(running(podsOf(env, 'doomed')).length, 0);
    await advance(env, 600_000);
    assert.equal(podsOf(env, 'doomed').length, 3, 'no pods after the Job failed');
  });

  it('fails with DeadlineExceeded after activeDeadlineSeconds, deleting the active pods and counting them failed', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('slow', { activeDeadlineSeconds: 30, parallelism: 2, completions: 2 }));
    await env.mgr.idle();
    assert.equal(running(podsOf(env, 'slow')).length, 2);
    await advance(env, 29_000);
    assert.equal(condition(getJob(env, 'slow'), 'Failed'), undefined);
    assert.equal(running(podsOf(env, 'slow')).length, 2);
    await advance(env, 1_000);
    const j = getJob(env, 'slow')!;
    assert.equal(condition(j, 'Failed')?.reason, 'DeadlineExceeded');
    assert.equal(podsOf(env, 'slow').length, 0, 'active pods deleted, finalizers released');
    assert.equal(j.status?.active, 0);
    assert.equal(j.status?.failed, 2, JSON.stringify(j.status));
  });

  it('deletes a finished Job ttlSecondsAfterFinished after it finished, and the collector its pods', async () => {
    const env = await setup({ gc: true });
    await env.registry.create(JOBS, job('once', { ttlSecondsAfterFinished: 100 }));
    await env.mgr.idle();
    env.clock.now += 5_000;
    await finishPods(env, 'once', 'Succeeded');
    assert.ok(condition(getJob(env, 'once'), 'Complete'));
    await advance(env, 99_000);
    assert.ok(getJob(env, 'once'), 'still there before the ttl');
    await advance(env, 1_000);
    assert.equal(getJob(env, 'once'), undefined);
    await advance(env, GRACE);
    assert.equal(podsOf(env, 'once').length, 0);
  });

  it('does not delete a finished Job without a ttl', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('stay'));
    await env.mgr.idle();
    await finishPods(env, 'stay', 'Succeeded');
    await advance(env, 24 * 3600_000);
    assert.ok(condition(getJob(env, 'stay'), 'Complete'));
  });

  it('a suspended Job runs nothing until resumed', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('later', { suspend: true }));
    await env.mgr.idle();
    assert.equal(podsOf(env, 'later').length, 0);
    assert.equal(condition(getJob(env, 'later'), 'Suspended')?.reason, 'JobSuspended');
    assert.equal(getJob(env, 'later')?.status?.startTime, undefined);
    const cur = getJob(env, 'later')!;
    await env.registry.update(JOBS, { ...cur, spec: { ...cur.spec, suspend: false } });
    await env.mgr.idle();
    assert.equal(running(podsOf(env, 'later')).length, 1);
    assert.equal(condition(getJob(env, 'later'), 'Suspended'), undefined);
  });

  it('suspending deletes the running pods without counting them as failed', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('pause', { completions: 2, parallelism: 2 }));
    await env.mgr.idle();
    assert.equal(running(podsOf(env, 'pause')).length, 2);
    const cur = getJob(env, 'pause')!;
    await env.registry.update(JOBS, { ...cur, spec: { ...cur.spec, suspend: true } });
    await env.mgr.idle();
    const j = getJob(env, 'pause')!;
    assert.equal(podsOf(env, 'pause').length, 0);
    assert.deepEqual([j.status?.active, j.status?.failed], [0, 0]);
    assert.ok(condition(j, 'Suspended'));
  });
});

describe('job deadline and suspension', () => {
  it('a resumed Job counts activeDeadlineSeconds from the resume', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('nap', { activeDeadlineSeconds: 30 }));
    await env.mgr.idle();
    await advance(env, 10_000);
    const setSuspend = async (suspend: boolean) => {
      const cur = getJob(env, 'nap')!;
      await env.registry.update(JOBS, { ...cur, spec: { ...cur.spec, suspend } });
      await env.mgr.idle();
    };
    await setSuspend(true);
    await advance(env, 60_000);
    assert.equal(condition(getJob(env, 'nap'), 'Failed'), undefined, 'no deadline while suspended');
    await setSuspend(false);
    assert.equal(condition(getJob(env, 'nap'), 'Failed'), undefined);
    assert.equal(running(podsOf(env, 'nap')).length, 1);
    assert.equal(getJob(env, 'nap')?.status?.startTime, new Date(env.clock.now).toISOString().replace(/\.\d+Z$/, 'Z'));
    await advance(env, 29_000);
    assert.equal(condition(getJob(env, 'nap'), 'Failed'), undefined);
    await advance(env, 1_000);
    assert.equal(condition(getJob(env, 'nap'), 'Failed')?.reason, 'DeadlineExceeded');
  });
});

describe('indexed job', () => {
  it('runs one pod per index with its index as annotation, label, hostname, name and env', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('idx', { completionMode: 'Indexed', completions: 3, parallelism: 2 }));
    await env.mgr.idle();
    const pods = podsOf(env, 'idx').sort((a, b) => indexOf(a) - indexOf(b));
    assert.deepEqual(pods.map(indexOf), [0, 1]);
    for (const p of pods) {
      const ix = indexOf(p);
      assert.equal(p.metadata.labels?.[INDEX], String(ix));
      assert.match(p.metadata.name!, new RegExp(`^idx-${ix}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      assert.equal(p.spec.hostname, `idx-${ix}`);
      const vars = resolveEnv(p, p.spec.containers[0]!, {}, { configMap: () => undefined, secret: () => undefined });
      assert.equal(vars.get('JOB_COMPLETION_INDEX'), String(ix), 'the kubelet resolves the index from the annotation');
    }
  });

  it('retries a failed index, counts each index once, and reports completedIndexes', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('idx', { completionMode: 'Indexed', completions: 3, parallelism: 2 }));
    await env.mgr.idle();
    const byIndex = (ix: number) => running(podsOf(env, 'idx')).find((p) => indexOf(p) === ix);
    await finishPod(env, byIndex(1)!, 'Succeeded');
    await env.mgr.idle();
    assert.equal(getJob(env, 'idx')?.status?.completedIndexes, '1');
    assert.deepEqual(running(podsOf(env, 'idx')).map(indexOf).sort(), [0, 2], 'the next free index starts');
    await finishPod(env, byIndex(0)!, 'Failed');
    await env.mgr.idle();
    assert.equal(byIndex(0), undefined, 'index 0 waits for the back-off');
    await advance(env, 10_000);
    assert.ok(byIndex(0), 'index 0 runs again');
    await finishPod(env, byIndex(2)!, 'Succeeded');
    await finishPod(env, byIndex(0)!, 'Succeeded');
    await env.mgr.idle();
    let j = getJob(env, 'idx')!;
    assert.equal(j.status?.completedIndexes, '0-2');
    assert.deepEqual([j.status?.succeeded, j.status?.failed], [3, 1]);
    assert.ok(condition(j, 'Complete'));
    for (const p of podsOf(env, 'idx')) await env.registry.delete('pods', 'default', p.metadata.name!);
    await advance(env, 1000);
    j = getJob(env, 'idx')!;
    assert.deepEqual([j.status?.completedIndexes, j.status?.succeeded], ['0-2', 3]);
  });
});

describe('job pods and deletion', () => {
  it('a Job deleted in the foreground releases its pods so the collector can finish', async () => {
    const env = await setup({ gc: true });
    await env.registry.create(JOBS, job('fg', { completions: 2, parallelism: 2 }));
    await env.mgr.idle();
    assert.equal(podsOf(env, 'fg').length, 2);
    await env.registry.delete(JOBS, 'default', 'fg', { propagationPolicy: 'Foreground' });
    await env.mgr.idle();
    assert.equal(podsOf(env, 'fg').length, 0);
    assert.equal(getJob(env, 'fg'), undefined, 'no dependent blocks the Job any more');
  });

  it('pods of a Job deleted in the background are collected once the grace ends', async () => {
    const env = await setup({ gc: true });
    await env.registry.create(JOBS, job('bg', { completions: 2, parallelism: 2 }));
    await env.mgr.idle();
    await env.registry.delete(JOBS, 'default', 'bg', { propagationPolicy: 'Background' });
    await env.mgr.idle();
    assert.equal(getJob(env, 'bg'), undefined);
    assert.equal(podsOf(env, 'bg').length, 2, 'a missing owner may only not have arrived yet');
    await advance(env, GRACE);
    assert.equal(podsOf(env, 'bg').length, 0);
  });

  it('pods orphaned by their Job lose the tracking finalizer and keep running', async () => {
    const env = await setup({ gc: true });
    await env.registry.create(JOBS, job('orph', { completions: 2, parallelism: 2 }));
    await env.mgr.idle();
    await env.registry.delete(JOBS, 'default', 'orph', { propagationPolicy: 'Orphan' });
    await env.mgr.idle();
    const pods = podsOf(env, 'orph');
    assert.equal(pods.length, 2);
    assert.ok(pods.every((p) => !p.metadata.ownerReferences?.length && !tracked(p)), JSON.stringify(pods.map((p) => p.metadata)));
    await env.registry.delete('pods', 'default', pods[0]!.metadata.name!);
    assert.equal(podsOf(env, 'orph').length, 1, 'nothing holds a deleted orphan');
  });

  it('a user deleting a pod of a finished Job is not held up', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('done'));
    await env.mgr.idle();
    await finishPods(env, 'done', 'Succeeded');
    assert.ok(condition(getJob(env, 'done'), 'Complete'));
    const [p] = podsOf(env, 'done');
    await env.registry.delete('pods', 'default', p!.metadata.name!);
    assert.equal(podsOf(env, 'done').length, 0);
  });
});
