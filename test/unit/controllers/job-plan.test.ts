import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import type { Job } from '../../../src/agent/controllers/job-controller.ts';
import {
  firstPendingIndexes,
  formatIntervals,
  indexedGenerateName,
  intervalsTotal,
  parseIntervals,
  withIndexes,
} from '../../../src/agent/controllers/job-indexes.ts';
import { backoffDelayMs, nextBackoffRecord, NO_BACKOFF, podFinishedAt, remainingBackoffMs } from '../../../src/agent/controllers/job-backoff.ts';
import {
  declareFinish,
  indexesToCreate,
  isPodFailed,
  JOB_TRACKING_FINALIZER,
  planTracking,
  podFromJob,
  podsToRemove,
  settleUncounted,
  viewJob,
  wantActive,
} from '../../../src/agent/controllers/job-plan.ts';
import { seededRandom } from '../../support/seeded-random.ts';

const T0 = Date.parse('2026-04-01T08:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function job(spec: Partial<Job['spec']> = {}, status?: Job['status']): Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'pi', namespace: 'default', uid: 'job-uid' },
    spec: { parallelism: 1, completions: 1, backoffLimit: 6, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'i' }] } }, ...spec },
    ...(status ? { status } : {}),
  };
}

interface PodOpts {
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  index?: number;
  finalizer?: boolean;
  deleting?: boolean;
  finishedAt?: number;
}

function pod(uid: string, o: PodOpts = {}): Pod {
  const p: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pi-${uid}`, namespace: 'default', uid, creationTimestamp: iso(T0) },
    spec: { containers: [{ name: 'c', image: 'i' }] },
    status: { phase: o.phase ?? 'Running' },
  };
  if (o.finalizer !== false) p.metadata.finalizers = [JOB_TRACKING_FINALIZER];
  if (o.index !== undefined) p.metadata.annotations = { 'batch.kubernetes.io/job-completion-index': String(o.index) };
  if (o.deleting) {
    p.metadata.deletionTimestamp = iso(T0 + 1000);
    p.metadata.deletionGracePeriodSeconds = 0;
  }
  if (o.finishedAt !== undefined) {
    p.status!.containerStatuses = [
      { name: 'c', state: { terminated: { exitCode: 0, finishedAt: iso(o.finishedAt) } }, lastState: {}, ready: false, restartCount: 0, image: 'i', imageID: '' },
    ];
  }
  return p;
}

describe('completion index intervals', () => {
  it('formats as kube does: ranges of three or more, pairs as two', () => {
    assert.equal(formatIntervals(withIndexes([], [0, 1, 2, 4, 6, 7])), '0-2,4,6,7');
    assert.equal(formatIntervals([]), '');
  });

  it('parses what it formats, clipped to completions, skipping corrupt parts', () => {
    assert.deepEqual(parseIntervals('0-2,4,6,7', 10), [
      { first: 0, last: 2 },
      { first: 4, last: 4 },
      { first: 6, last: 7 },
    ]);
    assert.deepEqual(parseIntervals('0-2,x,5-9', 7), [
      { first: 0, last: 2 },
      { first: 5, last: 6 },
    ]);
    assert.deepEqual(parseIntervals('8,9', 5), []);
  });

  it('round-trips random index sets', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
    const rand = seededRandom(seed);
    for (let round = 0; round < 200; round++) {
      const n = 1 + Math.floor(rand() * 40);
      const set = new Set<number>();
      for (let i = 0; i < n; i++) if (rand() < 0.5) set.add(i);
      const ivs = withIndexes([], set);
      assert.equal(intervalsTotal(ivs), set.size, `seed ${seed}`);
      assert.deepEqual(parseIntervals(formatIntervals(ivs), n), ivs, `seed ${seed}: ${[...set].join(',')}`);
      const pending = firstPendingIndexes(ivs, n, n);
      assert.deepEqual(
        pending,
        [...Array(n).keys()].filter((i) => !set.has(i)),
        `seed ${seed}`,
      );
    }
  });

  it('names pods <job>-<index>- within kube limit', () => {
    assert.equal(indexedGenerateName('pi', 3), 'pi-3-');
    const long = 'j'.repeat(70);
    const name = indexedGenerateName(long, 12);
    assert.equal(name.length, 58);
    assert.ok(name.endsWith('-12-'));
  });
});

describe('pod failure back-off', () => {
  it('doubles from 10 s per consecutive failure up to 6 min', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelayMs(n) / 1000),
      [0, 10, 20, 40, 80, 160, 320, 360, 360],
    );
  });

  it('counts from the last failure, and a later success resets it', () => {
    const f1 = pod('a', { phase: 'Failed', finishedAt: T0 + 1000 });
    const f2 = pod('b', { phase: 'Failed', finishedAt: T0 + 3000 });
    const r1 = nextBackoffRecord(NO_BACKOFF, [], [f1]);
    assert.deepEqual(r1, { failuresAfterLastSuccess: 1, lastFailureAt: T0 + 1000 });
    assert.equal(remainingBackoffMs(r1, T0 + 4000), 7000);
    const r2 = nextBackoffRecord(r1, [], [f2]);
    assert.equal(remainingBackoffMs(r2, T0 + 4000), 19_000);
    assert.equal(remainingBackoffMs(r2, T0 + 23_000), 0);
    const ok = pod('c', { phase: 'Succeeded', finishedAt: T0 + 2000 });
    // Only the failure after the success counts.
    assert.deepEqual(nextBackoffRecord(r1, [ok], [f1, f2]), { failuresAfterLastSuccess: 1, lastFailureAt: T0 + 3000 });
    assert.deepEqual(nextBackoffRecord(r2, [ok], []), NO_BACKOFF);
    assert.equal(nextBackoffRecord(r2, [], []), r2);
  });

  it('takes a finish time from containers, then Ready=False, then deletion, then creation', () => {
    assert.equal(podFinishedAt(pod('a', { finishedAt: T0 + 5000 })), T0 + 5000);
    const notReady = pod('b');
    notReady.status!.conditions = [{ type: 'Ready', status: 'False', lastTransitionTime: iso(T0 + 7000) }];
    assert.equal(podFinishedAt(notReady), T0 + 7000);
    const deleted = pod('c');
    deleted.metadata.deletionTimestamp = iso(T0 + 40_000);
    deleted.metadata.deletionGracePeriodSeconds = 30;
    assert.equal(podFinishedAt(deleted), T0 + 10_000);
    assert.equal(podFinishedAt(pod('d')), T0);
  });
});

describe('job plan', () => {
  it('a pod deleted before it succeeded is failed; a succeeded one being deleted is not', () => {
    assert.equal(isPodFailed(pod('a', { deleting: true })), true);
    assert.equal(isPodFailed(pod('b', { deleting: true, phase: 'Succeeded' })), false);
    assert.equal(isPodFailed(pod('c', { phase: 'Failed' })), true);
    assert.equal(isPodFailed(pod('d')), false);
  });

  it('wants min(parallelism, remaining), and a work queue keeps what runs after a success', () => {
    assert.equal(wantActive(job({ completions: 5, parallelism: 2 }), 4, 0), 1);
    assert.equal(wantActive(job({ completions: 5, parallelism: 2 }), 6, 2), 0);
    assert.equal(wantActive(job({ completions: null, parallelism: 3 }), 0, 1), 3);
    assert.equal(wantActive(job({ completions: null, parallelism: 3 }), 1, 2), 2);
  });

  it('records finished pods as uncounted, releases them, and counts each once', () => {
    const j = job({ completions: 3, parallelism: 3 }, { active: 3, succeeded: 1, failed: 0, ready: 0 });
    const pods = [pod('ok', { phase: 'Succeeded' }), pod('bad', { phase: 'Failed' }), pod('gone', { deleting: true }), pod('run'), pod('old', { phase: 'Succeeded', finalizer: false })];
    const view = viewJob(j, pods);
    assert.deepEqual([view.succeeded, view.failed, view.active.length, view.terminating], [2, 2, 1, 1]);
    const plan = planTracking(j, pods, view, undefined, false);
    assert.deepEqual(plan.strip.map((p) => p.metadata.uid), ['ok', 'bad', 'gone']);
    assert.deepEqual(plan.uncounted, { succeeded: ['ok'], failed: ['bad', 'gone'] });
    const status = { ...j.status!, uncountedTerminatedPods: plan.uncounted };
    // Before the finalizers go nothing moves; after, every released pod is counted.
    assert.deepEqual(settleUncounted(status, new Set(['ok', 'bad', 'gone', 'run'])), { ...status, uncountedTerminatedPods: { succeeded: ['ok'], failed: ['bad', 'gone'] } });
    const settled = settleUncounted(status, new Set(['run', 'gone']));
    assert.deepEqual([settled.succeeded, settled.failed, settled.uncountedTerminatedPods], [2, 1, { failed: ['gone'] }]);
    // The next pass sees released pods as counted and 'gone' as recorded: nothing is recorded twice.
    const released = pods.map((p) => (p.metadata.uid === 'ok' || p.metadata.uid === 'bad' ? { ...p, metadata: { ...p.metadata, finalizers: [] } } : p));
    const next = { ...j, status: settled };
    const nextView = viewJob(next, released);
    assert.deepEqual([nextView.succeeded, nextView.failed], [2, 2]);
    const again = planTracking(next, released, nextView, undefined, false);
    assert.deepEqual(again.uncounted, { succeeded: [], failed: ['gone'] });
    assert.deepEqual(again.strip.map((p) => p.metadata.uid), ['gone']);
  });

  it('counts every unfinished pod as failed once the Job fails, none once it succeeds', () => {
    const j = job({ completions: 2, parallelism: 2 }, { active: 2, succeeded: 0, failed: 0, ready: 0 });
    const pods = [pod('a'), pod('b', { phase: 'Succeeded' })];
    const failing = planTracking(j, pods, viewJob(j, pods), { type: 'Failed', reason: 'DeadlineExceeded', message: '' }, false);
    assert.deepEqual(failing.uncounted, { succeeded: ['b'], failed: ['a'] });
    const completing = planTracking(j, pods, viewJob(j, pods), { type: 'Complete', reason: 'CompletionsReached', message: '' }, false);
    assert.deepEqual(completing.uncounted, { succeeded: ['b'], failed: [] });
    assert.equal(completing.strip.length, 2);
    const deleting = planTracking(j, pods, viewJob(j, pods), undefined, true);
    assert.deepEqual(deleting.uncounted, { succeeded: ['b'], failed: [] });
    assert.equal(deleting.strip.length, 2, 'a Job being deleted releases every pod');
  });

  it('declares the finish only when nothing is uncounted or terminating', () => {
    const finish = { type: 'Complete' as const, reason: 'CompletionsReached', message: 'm' };
    const base = { active: 0, succeeded: 1, failed: 0, ready: 0 };
    assert.equal(declareFinish({ ...base, uncountedTerminatedPods: { succeeded: ['x'] } }, finish, 0, iso(T0)).finished, false);
    assert.equal(declareFinish({ ...base, uncountedTerminatedPods: {} }, finish, 1, iso(T0)).finished, false);
    const done = declareFinish({ ...base, uncountedTerminatedPods: {} }, finish, 0, iso(T0));
    assert.equal(done.finished, true);
    assert.equal(done.status.completionTime, iso(T0));
    assert.deepEqual(
      done.status.conditions?.map((c) => [c.type, c.status, c.reason]),
      [['Complete', 'True', 'CompletionsReached']],
    );
  });
});

describe('indexed job plan', () => {
  const indexed = (status?: Job['status']) => job({ completionMode: 'Indexed', completions: 4, parallelism: 2 }, status);

  it('counts one succeeded pod per index, from completedIndexes on', () => {
    const j = indexed({ active: 0, succeeded: 1, failed: 0, ready: 0, completedIndexes: '1' });
    const pods = [pod('a', { phase: 'Succeeded', index: 0 }), pod('b', { phase: 'Succeeded', index: 0 }), pod('c', { phase: 'Succeeded', index: 1 }), pod('d', { phase: 'Succeeded', index: 9 })];
    const view = viewJob(j, pods);
    assert.equal(view.succeeded, 2);
    assert.equal(formatIntervals(view.succeededIndexes), '0,1');
    const plan = planTracking(j, pods, view, undefined, false);
    assert.equal(formatIntervals(plan.succeededIndexes), '0,1');
    assert.deepEqual(plan.uncounted, { succeeded: [], failed: [] }, 'indexes, not uids, record successes');
    assert.equal(plan.strip.length, 4);
  });

  it('creates the lowest indexes that neither succeeded nor run', () => {
    const j = indexed({ active: 1, succeeded: 1, failed: 0, ready: 0, completedIndexes: '0' });
    const pods = [pod('a', { index: 2 })];
    assert.deepEqual(indexesToCreate(j, viewJob(j, pods), 5), [1, 3]);
  });

  it('removes pods without a valid index and repeats of an index before the rest', () => {
    const j = indexed();
    const active = [pod('a', { index: 0 }), pod('b', { index: 0 }), pod('c'), pod('d', { index: 7 }), pod('e', { index: 1 })];
    const removed = podsToRemove(j, active, 2).map((p) => p.metadata.uid).sort();
    assert.equal(removed.length, 3);
    assert.ok(removed.includes('c') && removed.includes('d'));
    assert.ok(removed.includes('a') !== removed.includes('b'), 'one of the two index-0 pods stays');
  });

  it('builds pods with index annotation, label, hostname, generateName and env', () => {
    const j = indexed();
    j.spec.template!.spec!.initContainers = [{ name: 'init', image: 'i' }];
    const p = podFromJob(j, 3);
    assert.equal(p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'], '3');
    assert.equal(p.metadata.labels?.['batch.kubernetes.io/job-completion-index'], '3');
    assert.equal(p.metadata.generateName, 'pi-3-');
    assert.equal(p.spec.hostname, 'pi-3');
    assert.deepEqual(p.metadata.finalizers, [JOB_TRACKING_FINALIZER]);
    for (const c of [...p.spec.containers, ...(p.spec.initContainers ?? [])]) {
      assert.deepEqual(c.env, [{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }]);
    }
    assert.equal(j.spec.template!.spec!.containers[0]!.env, undefined, 'the template is not changed');
    assert.equal(podFromJob(job()).metadata.generateName, 'pi-');
  });
});
