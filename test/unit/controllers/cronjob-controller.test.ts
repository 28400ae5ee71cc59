import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import type { ObjectClient } from '../../../src/agent/api/object-client.ts';
import { findByKind } from '../../../src/agent/api/resources.ts';
import { applyDefaults } from '../../../src/agent/api/admission/index.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import type { Controller } from '../../../src/agent/controllers/controller.ts';
import type { Job } from '../../../src/agent/controllers/job-controller.ts';
import { createCronJobController } from '../../../src/agent/controllers/cronjob-controller.ts';
import { jobNameFor, type CronJob } from '../../../src/agent/controllers/cronjob-schedule.ts';
import { createFakeClock, type FakeClock } from '../../support/fake-clock.ts';
import { createFakeObjectClient, type FakeObjectClient } from '../../support/fake-object-client.ts';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { createRegistry } from '../../../src/agent/api/registry.ts';

const CRONJOBS = 'cronjobs.batch';
const JOBS = 'jobs.batch';
const KEY = 'default/backup';
const MIN = 60_000;
const at = (iso: string) => Date.parse(iso);

interface Env {
  fc: FakeClock;
  client: FakeObjectClient;
  ctrl: Controller;
  /** Reconciles now and, like the manager's work queue, again whenever the controller asks. */
  run(): Promise<void>;
}

function setup(start: string): Env {
  const fc = createFakeClock(at(start));
  const client = createFakeObjectClient();
  const ctrl = createCronJobController({ client, logger: silentLogger(), clock: () => new Date(fc.now()) });
  return { fc, client, ctrl, run: looping(fc, ctrl) };
}

function looping(fc: FakeClock, ctrl: Controller): () => Promise<void> {
  let timer: unknown;
  const run = async (): Promise<void> => {
    const r = await ctrl.reconcile(KEY);
    if (timer !== undefined) fc.clearTimeout(timer);
    timer = r?.requeueAfterMs === undefined ? undefined : fc.setTimeout(() => void run().catch(() => undefined), r.requeueAfterMs);
  };
  return run;
}

/** Stored as the API would: defaulted, created now. */
async function createCronJob(env: Env, spec: Partial<CronJob['spec']> = {}, createdAt = env.fc.now()): Promise<CronJob> {
  const cj: CronJob = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'backup', namespace: 'default', creationTimestamp: new Date(createdAt).toISOString().replace(/\.\d+Z$/, 'Z') },
    spec: {
      schedule: '*/5 * * * *',
      jobTemplate: {
        metadata: { labels: { team: 'ops' }, annotations: { note: 'nightly' } },
        spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'busybox:1' }] } } },
      },
      ...spec,
    },
  };
  applyDefaults(findByKind('batch/v1', 'CronJob')!, cj);
  return env.client.create(CRONJOBS, cj);
}

const cronJob = (env: Env) => env.client.get<CronJob>(CRONJOBS, 'default', 'backup')!;
const jobs = (env: Env) => env.client.list<Job>(JOBS).items.sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
const jobNames = (env: Env) => jobs(env).map((j) => j.metadata.name);
const nameAt = (iso: string) => `backup-${at(iso) / MIN}`;
const events = (env: Env) => env.client.list<KubeObject & { reason: string; type: string; message: string }>('events').items;
const eventReasons = (env: Env) => events(env).map((e) => e.reason);

async function finish(env: Env, name: string, type: 'Complete' | 'Failed'): Promise<void> {
  const job = env.client.get<Job>(JOBS, 'default', name)!;
  const ts = new Date(env.fc.now()).toISOString().replace(/\.\d+Z$/, 'Z');
  await env.client.updateStatus<Job>(JOBS, {
    ...job,
    status: {
      active: 0,
      succeeded: type === 'Complete' ? 1 : 0,
      failed: type === 'Failed' ? 1 : 0,
      ready: 0,
      startTime: job.status?.startTime ?? ts,
      ...(type === 'Complete' ? { completionTime: ts } : {}),
      conditions: [{ type, status: 'True', lastTransitionTime: ts }],
    },
  });
}

describe('cronjob controller', () => {
  it('creates the Job at the schedule time, named by it, and asks to be called back at the next', async () => {
    const env = setup('2025-01-15T00:01:00Z');
    const cj = await createCronJob(env);
    const first = await env.ctrl.reconcile(KEY);
    assert.equal(jobs(env).length, 0, 'nothing due yet');
    assert.equal(first?.requeueAfterMs, 4 * MIN + 100, 'back just after 00:05');
    await env.run();
    await env.fc.advance(4 * MIN);
    assert.equal(jobs(env).length, 0, 'not before the time');
    await env.fc.advance(100);
    assert.deepEqual(jobNames(env), [nameAt('2025-01-15T00:05:00Z')]);
    const job = jobs(env)[0]!;
    assert.deepEqual(job.metadata.ownerReferences, [
      { apiVersion: 'batch/v1', kind: 'CronJob', name: 'backup', uid: cj.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    assert.deepEqual(job.metadata.labels, { team: 'ops' });
    assert.deepEqual(job.metadata.annotations, { note: 'nightly', 'batch.kubernetes.io/cronjob-scheduled-timestamp': '2025-01-15T00:05:00Z' });
    assert.deepEqual(job.spec, cj.spec.jobTemplate!.spec);
    const status = cronJob(env).status!;
    assert.deepEqual(status.active, [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, namespace: 'default', uid: job.metadata.uid, resourceVersion: job.metadata.resourceVersion }]);
    assert.equal(status.lastScheduleTime, '2025-01-15T00:05:00Z');
    assert.ok(events(env).some((e) => e.reason === 'SuccessfulCreate' && e.message === `Created job ${job.metadata.name}`));
    await env.fc.advance(5 * MIN);
    assert.deepEqual(jobNames(env), [nameAt('2025-01-15T00:05:00Z'), nameAt('2025-01-15T00:10:00Z')]);
  });

  it('reads the schedule in spec.timeZone: 09:00 Europe/Berlin is 08:00Z in winter, 07:00Z in summer', async () => {
    for (const [day, utc, local] of [
      ['2025-01-15', '08:00:00Z', '2025-01-15T09:00:00+01:00'],
      ['2025-07-15', '07:00:00Z', '2025-07-15T09:00:00+02:00'],
    ] as const) {
      const env = setup(`${day}T00:00:00Z`);
      const cj = await createCronJob(env, { schedule: '0 9 * * *', timeZone: 'Europe/Berlin' });
      await env.run();
      const due = at(`${day}T${utc}`) - env.fc.now();
      await env.fc.advance(due - MIN);
      assert.equal(jobs(env).length, 0, `${day}: nothing a minute before ${utc}`);
      await env.fc.advance(MIN + 200);
      assert.deepEqual(jobNames(env), [jobNameFor(cj, new Date(`${day}T${utc}`))], day);
      assert.equal(jobs(env)[0]!.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'], local);
      await env.fc.advance(23 * 60 * MIN);
      assert.equal(jobs(env).length, 1, `${day}: once a day`);
    }
  });

  it('Allow runs schedules side by side', async () => {
    const env = setup('2025-01-15T00:01:00Z');
    await createCronJob(env, { concurrencyPolicy: 'Allow' });
    await env.run();
    await env.fc.advance(15 * MIN);
    assert.equal(jobs(env).length, 3);
    assert.equal(cronJob(env).status?.active?.length, 3);
  });

  it('Forbid skips a schedule while a Job is active, then starts the pending one when it ends', async () => {
    const env = setup('2025-01-15T00:01:00Z');
    await createCronJob(env, { concurrencyPolicy: 'Forbid' });
    await env.run();
    await env.fc.advance(10 * MIN);
    assert.deepEqual(jobNames(env), [nameAt('2025-01-15T00:05:00Z')], 'the 00:10 run is held back');
    assert.ok(eventReasons(env).includes('JobAlreadyActive'));
    assert.equal(cronJob(env).status?.lastScheduleTime, '2025-01-15T00:05:00Z');
    await env.fc.advance(MIN); // 00:12
    await finish(env, nameAt('2025-01-15T00:05:00Z'), 'Complete');
    await env.run(); // the Job watch's pass
    assert.deepEqual(jobNames(env), [nameAt('2025-01-15T00:05:00Z'), nameAt('2025-01-15T00:10:00Z')]);
    const status = cronJob(env).status!;
    assert.deepEqual(status.active?.map((r) => r.name), [nameAt('2025-01-15T00:10:00Z')]);
    assert.equal(status.lastSuccessfulTime, '2025-01-15T00:12:00Z');
    assert.ok(eventReasons(env).includes('SawCompletedJob'));
  });

  it('Replace deletes the active Job (background propagation) before creating the next', async () => {
    const env = setup('2025-01-15T00:01:00Z');
    await createCronJob(env, { concurrencyPolicy: 'Replace' });
    await env.run();
    await env.fc.advance(5 * MIN);
    const old = jobs(env)[0]!;
    env.client.writes.length = 0;
    await env.fc.advance(5 * MIN);
    assert.deepEqual(jobNames(env), [nameAt('2025-01-15T00:10:00Z')]);
    const jobWrites = env.client.writes.filter((w) => w.resource === JOBS);
    assert.deepEqual(
      jobWrites.map((w) => [w.op, w.name]),
      [
        ['delete', old.metadata.name],
        ['create', nameAt('2025-01-15T00:10:00Z')],
      ],
    );
    assert.equal(jobWrites[0]!.opts?.propagationPolicy, 'Background');
    assert.equal(jobWrites[0]!.opts?.preconditions?.uid, old.metadata.uid);
    assert.deepEqual(cronJob(env).status?.active?.map((r) => r.name), [nameAt('2025-01-15T00:10:00Z')]);
  });

  it('skips a start missed by more than startingDeadlineSeconds with a Warning, and starts a late one within it', async () => {
    const env = setup('2025-01-15T00:07:00Z');
    await createCronJob(env, { startingDeadlineSeconds: 60 }, at('2025-01-15T00:01:00Z'));
    await env.run(); // the controller was away at 00:05
    assert.equal(jobs(env).length, 0);
    const miss = events(env).find((e) => e.reason === 'MissSchedule');
    assert.equal(miss?.type, 'Warning');
    assert.equal(miss?.message, 'Missed scheduled time to start a job: Wed, 15 Jan 2025 00:05:00 +0000');
    await env.fc.advance(3 * MIN + 100);
    assert.deepEqual(jobNames(env), [nameAt('2025-01-15T00:10:00Z')], 'the next slot runs');

    const late = setup('2025-01-15T00:05:50Z');
    await createCronJob(late, { startingDeadlineSeconds: 60 }, at('2025-01-15T00:01:00Z'));
    await late.run();
    assert.deepEqual(jobNames(late), [nameAt('2025-01-15T00:05:00Z')], '50 s late is within 60 s');
    assert.equal(eventReasons(late).includes('MissSchedule'), false);
  });

  it('a slot the old leader created but could not record is created once by the new leader', async () => {
    const env = setup('2025-01-15T00:05:00Z');
    await createCronJob(env, {}, at('2025-01-15T00:01:00Z'));
    // The old leader is deposed between its create and its status write.
    const deposed: ObjectClient = {
      ...env.client,
      updateStatus: async () => {
        throw new Error('lease lost');
      },
    };
    const oldLeader = createCronJobController({ client: deposed, logger: silentLogger(), clock: () => new Date(env.fc.now()) });
    await assert.rejects(oldLeader.reconcile(KEY), /lease lost/);
    assert.deepEqual(jobNames(env), [nameAt('2025-01-15T00:05:00Z')]);
    assert.equal(cronJob(env).status?.lastScheduleTime, undefined, 'the old leader left no trace in the status');

    await env.fc.advance(30_000);
    await env.ctrl.reconcile(KEY); // the new leader re-evaluates the slot
    assert.deepEqual(jobNames(env), [nameAt('2025-01-15T00:05:00Z')], 'exactly one Job');
    const creates = env.client.writes.filter((w) => w.op === 'create' && w.resource === JOBS);
    assert.equal(creates.length, 2, 'both leaders tried; AlreadyExists counted as done');
    const status = cronJob(env).status!;
    assert.equal(status.lastScheduleTime, '2025-01-15T00:05:00Z');
    assert.deepEqual(status.active?.map((r) => r.uid), [jobs(env)[0]!.metadata.uid]);
    await env.ctrl.reconcile(KEY);
    assert.equal(env.client.writes.filter((w) => w.op === 'create' && w.resource === JOBS).length, 2, 'no further attempt');
  });

  it('a schedule missed during a leader change, seen by old and new leader at once, makes one Job', async () => {
    const env = setup('2025-01-15T00:06:00Z');
    await createCronJob(env, {}, at('2025-01-15T00:01:00Z'));
    const other = createCronJobController({ client: env.client, logger: silentLogger(), clock: () => new Date(env.fc.now()) });
    await Promise.all([env.ctrl.reconcile(KEY), other.reconcile(KEY)]);
    assert.deepEqual(jobNames(env), [nameAt('2025-01-15T00:05:00Z')]);
    assert.equal(cronJob(env).status?.active?.length, 1);
    assert.equal(cronJob(env).status?.lastScheduleTime, '2025-01-15T00:05:00Z');
  });

  it('deletes the oldest finished Jobs beyond the history limits, Complete and Failed counted apart', async () => {
    const env = setup('2025-01-15T12:00:00Z');
    const cj = await createCronJob(env, { schedule: '0 0 1 1 *', successfulJobsHistoryLimit: 2, failedJobsHistoryLimit: 1 });
    const owned = (name: string, startHour: number, type?: 'Complete' | 'Failed'): Job => {
      const startTime = `2025-01-15T${String(startHour).padStart(2, '0')}:00:00Z`;
      return {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name, namespace: 'default', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'backup', uid: cj.metadata.uid!, controller: true }] },
        spec: {},
        status: { active: type ? 0 : 1, succeeded: 0, failed: 0, ready: 0, startTime, conditions: type ? [{ type, status: 'True' }] : [] },
      };
    };
    // Created out of order: the start time decides age.
    for (const j of [owned('ok-3', 3, 'Complete'), owned('ok-1', 1, 'Complete'), owned('ok-4', 4, 'Complete'), owned('ok-2', 2, 'Complete'), owned('bad-2', 2, 'Failed'), owned('bad-1', 1, 'Failed'), owned('bad-3', 3, 'Failed'), owned('running', 0)]) {
      await env.client.create(JOBS, j);
    }
    const foreign = owned('not-mine', 0, 'Complete');
    foreign.metadata.ownerReferences = [];
    await env.client.create(JOBS, foreign);
    await env.ctrl.reconcile(KEY);
    assert.deepEqual(jobNames(env), ['bad-3', 'not-mine', 'ok-3', 'ok-4', 'running']);
    const deletes = env.client.writes.filter((w) => w.op === 'delete');
    assert.deepEqual(deletes.map((w) => w.name).sort(), ['bad-1', 'bad-2', 'ok-1', 'ok-2']);
    assert.ok(deletes.every((w) => w.opts?.propagationPolicy === 'Background'));
    assert.equal(events(env).filter((e) => e.reason === 'SuccessfulDelete').length, 4);
  });

  it('suspend starts nothing; on resume only the latest missed slot runs', async () => {
    const env = setup('2025-01-15T00:01:00Z');
    await createCronJob(env, { suspend: true });
    const r = await env.ctrl.reconcile(KEY);
    assert.equal(r?.requeueAfterMs, undefined, 'no callback while suspended');
    await env.fc.advance(30 * MIN);
    await env.ctrl.reconcile(KEY);
    assert.equal(jobs(env).length, 0);
    const cj = cronJob(env);
    await env.client.update(CRONJOBS, { ...cj, spec: { ...cj.spec, suspend: false } });
    await env.run();
    assert.deepEqual(jobNames(env), [nameAt('2025-01-15T00:30:00Z')]);
  });

  it('warns TooManyMissedTimes past 100 missed starts and still starts only the latest', async () => {
    const env = setup('2025-01-15T03:00:30Z');
    await createCronJob(env, { schedule: '* * * * *' }, at('2025-01-15T00:00:00Z'));
    await env.ctrl.reconcile(KEY);
    assert.deepEqual(jobNames(env), [nameAt('2025-01-15T03:00:00Z')]);
    const warn = events(env).find((e) => e.reason === 'TooManyMissedTimes');
    assert.equal(warn?.type, 'Warning');

    const bounded = setup('2025-01-15T03:00:30Z');
    await createCronJob(bounded, { schedule: '* * * * *', startingDeadlineSeconds: 300 }, at('2025-01-15T00:00:00Z'));
    await bounded.ctrl.reconcile(KEY);
    assert.deepEqual(jobNames(bounded), [nameAt('2025-01-15T03:00:00Z')]);
    assert.equal(eventReasons(bounded).includes('TooManyMissedTimes'), false, 'the deadline bounds the count');
  });

  it('drops an active Job that went missing', async () => {
    const env = setup('2025-01-15T00:01:00Z');
    await createCronJob(env);
    await env.run();
    await env.fc.advance(4 * MIN + 100);
    const job = jobs(env)[0]!;
    await env.client.delete(JOBS, 'default', job.metadata.name!);
    await env.ctrl.reconcile(KEY);
    assert.equal(cronJob(env).status?.active, undefined);
    assert.ok(eventReasons(env).includes('MissingJob'));
    assert.equal(jobs(env).length, 0, 'the slot is not run again');
  });

  it('makes Jobs that pass Job admission, through the registry', async () => {
    const fc = createFakeClock(at('2025-01-15T00:04:00Z'));
    const clock = () => new Date(fc.now());
    const store = createMemoryStore();
    await store.start();
    const registry = createRegistry({ store, logger: silentLogger(), clock });
    await registry.ensureDefaultNamespaces();
    const ctrl = createCronJobController({ client: registry, logger: silentLogger(), clock });
    await registry.create<CronJob>(CRONJOBS, {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'backup', namespace: 'default' },
      spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1' }] } } } } },
    });
    const run = looping(fc, ctrl);
    await run();
    await fc.advance(MIN + 100);
    const made = registry.list<Job>(JOBS).items;
    assert.deepEqual(made.map((j) => j.metadata.name), [nameAt('2025-01-15T00:05:00Z')]);
    assert.deepEqual(made[0]!.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': made[0]!.metadata.uid } });
    assert.equal(registry.get<CronJob>(CRONJOBS, 'default', 'backup')?.status?.active?.[0]?.uid, made[0]!.metadata.uid);
    await store.stop();
  });

  it('maps a Job change to its CronJob and ignores other owners', () => {
    const env = setup('2025-01-15T00:00:00Z');
    const jobWatch = env.ctrl.watches.find((w) => w.resource === JOBS)!;
    const job = (kind: string, apiVersion: string): KubeObject => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'j', namespace: 'ns1', ownerReferences: [{ apiVersion, kind, name: 'backup', uid: 'u', controller: true }] },
    });
    assert.deepEqual([...jobWatch.toKeys({ type: 'MODIFIED', resource: JOBS, object: job('CronJob', 'batch/v1') })], ['ns1/backup']);
    assert.deepEqual([...jobWatch.toKeys({ type: 'MODIFIED', resource: JOBS, object: job('Deployment', 'apps/v1') })], []);
  });
});
