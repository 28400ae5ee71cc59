import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry, type Registry } from '../../../src/agent/api/registry.ts';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createControllerManager, type ControllerManager } from '../../../src/agent/controllers/controller.ts';
import { createJobController, type Job, type JobCondition } from '../../../src/agent/controllers/job-controller.ts';

const T0 = Date.parse('2026-04-01T08:00:00Z');
const JOBS = 'jobs.batch';

interface Env {
  registry: Registry;
  clock: { now: number };
  mgr: ControllerManager;
}

const managers: ControllerManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
});

async function setup(): Promise<Env> {
  const clock = { now: T0 };
  const store = createMemoryStore();
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger(), clock: () => new Date(clock.now) });
  await registry.ensureDefaultNamespaces();
  const jc = createJobController({ client: registry, logger: silentLogger(), clock: () => new Date(clock.now) });
  const mgr = createControllerManager({ client: registry, logger: silentLogger(), controllers: [jc], baseDelayMs: 5, maxDelayMs: 50 });
  managers.push(mgr);
  await mgr.start();
  return { registry, clock, mgr };
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

/** The fake kubelet: ends up to n running pods of the job in this phase. */
async function finishPods(env: Env, name: string, phase: 'Succeeded' | 'Failed', n = Infinity): Promise<number> {
  let done = 0;
  for (const p of running(podsOf(env, name))) {
    if (done >= n) break;
    await env.registry.updateStatus<Pod>('pods', { ...p, status: { ...p.status, phase } });
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
      const ref = p.metadata.ownerReferences?.[0];
      assert.deepEqual([ref?.kind, ref?.apiVersion, ref?.uid, ref?.controller], ['Job', 'batch/v1', created.metadata.uid, true]);
    }
    assert.equal(getJob(env, 'pi')?.status?.active, 2);
    assert.equal(getJob(env, 'pi')?.status?.startTime, new Date(T0).toISOString().replace(/\.\d+Z$/, 'Z'));
    for (let succeeded = 1; succeeded <= 4; succeeded++) {
      assert.equal(await finishPods(env, 'pi', 'Succeeded', 1), 1);
      const j = getJob(env, 'pi')!;
      assert.equal(j.status?.succeeded, succeeded);
      assert.equal(running(podsOf(env, 'pi')).length, Math.min(2, 4 - succeeded), `after ${succeeded} succeeded`);
      assert.equal(j.status?.active, Math.min(2, 4 - succeeded));
      assert.equal(!!condition(j, 'Complete'), succeeded === 4);
    }
    const j = getJob(env, 'pi')!;
    assert.equal(podsOf(env, 'pi').length, 4);
    assert.ok(condition(j, 'SuccessCriteriaMet'));
    assert.equal(condition(j, 'Complete')?.reason, 'CompletionsReached');
    assert.ok(j.status?.completionTime);
    assert.equal(condition(j, 'Failed'), undefined);
  });

  it('replaces failed pods up to backoffLimit, then fails with BackoffLimitExceeded', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('flaky', { backoffLimit: 2 }));
    await env.mgr.idle();
    for (let failed = 1; failed <= 2; failed++) {
      await finishPods(env, 'flaky', 'Failed');
      const j = getJob(env, 'flaky')!;
      assert.equal(j.status?.failed, failed);
      assert.equal(condition(j, 'Failed'), undefined);
      assert.equal(running(podsOf(env, 'flaky')).length, 1, 'a replacement runs');
    }
    await finishPods(env, 'flaky', 'Failed');
    const j = getJob(env, 'flaky')!;
    assert.equal(j.status?.failed, 3);
    assert.equal(condition(j, 'Failed')?.reason, 'BackoffLimitExceeded');
    assert.equal(condition(j, 'FailureTarget')?.reason, 'BackoffLimitExceeded');
    assert.equal(condition(j, 'Complete'), undefined);
    assert.equal(j.status?.completionTime, undefined);
    assert.equal(running(podsOf(env, 'flaky')).length, 0);
    await advance(env, 60_000);
    assert.equal(podsOf(env, 'flaky').length, 3, 'no pods after the Job failed');
  });

  it('fails with DeadlineExceeded after activeDeadlineSeconds and deletes the active pods', async () => {
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
    assert.equal(running(podsOf(env, 'slow')).length, 0, 'active pods deleted');
    assert.equal(j.status?.active, 0);
  });

  it('deletes a finished Job ttlSecondsAfterFinished after it finished', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('once', { ttlSecondsAfterFinished: 100 }));
    await env.mgr.idle();
    env.clock.now += 5_000;
    await finishPods(env, 'once', 'Succeeded');
    assert.ok(condition(getJob(env, 'once'), 'Complete'));
    await advance(env, 99_000);
    assert.ok(getJob(env, 'once'), 'still there before the ttl');
    await advance(env, 1_000);
    assert.equal(getJob(env, 'once'), undefined);
  });

  it('does not delete a finished Job without a ttl', async () => {
    const env = await setup();
    await env.registry.create(JOBS, job('keep'));
    await env.mgr.idle();
    await finishPods(env, 'keep', 'Succeeded');
    await advance(env, 24 * 3600_000);
    assert.ok(condition(getJob(env, 'keep'), 'Complete'));
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
});
