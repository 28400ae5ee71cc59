import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../../src/agent/api/object-types.ts';
import { findByKind } from '../../../../src/agent/api/resources.ts';
import { PRINTERS } from '../../../../src/agent/api/table/printers.ts';
import { validateJob } from '../../../../src/agent/api/admission/validate-job.ts';
import { causesOf, registry } from './fixtures.ts';

const JOBS = 'jobs.batch';
// Loose JSON: tests poke at any field.
type Obj = KubeObject & { spec: any };

function job(spec: Record<string, unknown> = {}, podSpec: Record<string, unknown> = { restartPolicy: 'Never' }): Obj {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'pi', namespace: 'default' },
    spec: { template: { spec: { containers: [{ name: 'pi', image: 'perl:5' }], ...podSpec } }, ...spec },
  };
}

describe('Job admission', () => {
  it('serves batch/v1 jobs', () => {
    const t = findByKind('batch/v1', 'Job');
    assert.ok(t);
    assert.equal(t.plural, 'jobs');
    assert.equal(t.namespaced, true);
    assert.deepEqual(t.subresources, ['status']);
    assert.equal(t.hasSpec, true);
  });

  it('fills kube defaults and a generated selector and labels', async () => {
    const r = await registry();
    const created = await r.create<Obj>(JOBS, job());
    const uid = created.metadata.uid!;
    assert.ok(uid);
    assert.equal(created.spec.completions, 1);
    assert.equal(created.spec.parallelism, 1);
    assert.equal(created.spec.backoffLimit, 6);
    assert.equal(created.spec.completionMode, 'NonIndexed');
    assert.equal(created.spec.suspend, false);
    assert.deepEqual(created.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } });
    assert.deepEqual(created.spec.template.metadata.labels, {
      'batch.kubernetes.io/controller-uid': uid,
      'controller-uid': uid,
      'batch.kubernetes.io/job-name': 'pi',
      'job-name': 'pi',
    });
  });

  it('parallelism alone leaves completions unset (a work queue)', async () => {
    const r = await registry();
    const created = await r.create<Obj>(JOBS, job({ parallelism: 3 }));
    assert.equal(created.spec.completions, undefined);
    assert.equal(created.spec.parallelism, 3);
  });

  it('rejects restartPolicy Always (the pod template default) naming the field', async () => {
    const r = await registry();
    assert.deepEqual(await causesOf(r.create(JOBS, job({}, {}))), [
      'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
    ]);
    assert.deepEqual(await causesOf(r.create(JOBS, job({}, { restartPolicy: 'Always' }))), [
      'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
    ]);
    await r.create(JOBS, { ...job({}, { restartPolicy: 'OnFailure' }), metadata: { name: 'ok', namespace: 'default' } });
  });

  it('rejects negative counts, each naming its field', async () => {
    const r = await registry();
    for (const f of ['completions', 'parallelism', 'backoffLimit', 'ttlSecondsAfterFinished']) {
      assert.deepEqual(await causesOf(r.create(JOBS, job({ [f]: -1 }))), [`spec.${f}: Invalid value: -1: must be greater than or equal to 0`], f);
    }
    assert.deepEqual(await causesOf(r.create(JOBS, job({ activeDeadlineSeconds: 0 }))), ['spec.activeDeadlineSeconds: Invalid value: 0: must be greater than 0']);
    assert.deepEqual(await causesOf(r.create(JOBS, job({ completionMode: 'Sometimes' }))), [
      'spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"',
    ]);
  });

  it('merges the uid into a hand-written selector, refuses a wrong uid, and leaves a manual one alone', async () => {
    const r = await registry();
    const withLabels = (o: Obj): Obj => {
      o.spec.template.metadata = { labels: { app: 'pi' } };
      return o;
    };
    // As kube's generateSelector: the user's labels stay, the uid label joins them.
    const merged = await r.create<Obj>(JOBS, withLabels(job({ selector: { matchLabels: { app: 'pi' } } })));
    assert.deepEqual(merged.spec.selector, { matchLabels: { app: 'pi', 'batch.kubernetes.io/controller-uid': merged.metadata.uid } });
    const wrong = { ...withLabels(job({ selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'not-mine' } } })), metadata: { name: 'wrong', namespace: 'default' } };
    const causes = await causesOf(r.create(JOBS, wrong));
    assert.ok(causes.some((c) => /^spec\.selector: .*`selector` not auto-generated$/.test(c)), causes.join('\n'));
    const manual = await r.create<Obj>(JOBS, {
      ...withLabels(job({ selector: { matchLabels: { app: 'pi' } }, manualSelector: true })),
      metadata: { name: 'manual', namespace: 'default' },
    });
    assert.deepEqual(manual.spec.selector, { matchLabels: { app: 'pi' } });
    assert.equal(manual.spec.template.metadata.labels['job-name'], undefined);
  });

  it('keeps selector and template immutable', async () => {
    const r = await registry();
    const created = await r.create<Obj>(JOBS, job());
    const changed = structuredClone(created);
    changed.spec.template.spec.containers[0].image = 'perl:6';
    assert.deepEqual((await causesOf(r.update(JOBS, changed))).map((c) => c.split(':')[0]), ['spec.template']);
    const scaled = structuredClone(created);
    scaled.spec.parallelism = 4;
    const updated = await r.update<Obj>(JOBS, scaled);
    assert.equal(updated.spec.parallelism, 4);
  });

  it('asks Indexed Jobs for completions, at most 100000 indexes, and a name every pod hostname fits', async () => {
    const r = await registry();
    assert.deepEqual(await causesOf(r.create(JOBS, job({ completionMode: 'Indexed', parallelism: 2 }))), [
      'spec.completions: Required value: when completion mode is Indexed',
    ]);
    assert.deepEqual(await causesOf(r.create(JOBS, job({ completionMode: 'Indexed', completions: 100_001, parallelism: 100_001 }))), [
      'spec.completions: Invalid value: 100001: must be less than or equal to 100000 when completion mode is Indexed',
      'spec.parallelism: Invalid value: 100001: must be less than or equal to 100000 when completion mode is Indexed',
    ]);
    const long = { ...job({ completionMode: 'Indexed', completions: 10 }), metadata: { name: 'j'.repeat(62), namespace: 'default' } };
    const causes = await causesOf(r.create(JOBS, long));
    assert.equal(causes.length, 1);
    assert.match(causes[0]!, new RegExp(`^metadata\\.name: .*will not able to create pod with invalid DNS label: j{62}-9$`));
    const ok = await r.create<Obj>(JOBS, job({ completionMode: 'Indexed', completions: 3, parallelism: 2 }));
    assert.equal(ok.spec.completionMode, 'Indexed');
  });

  it('keeps completions fixed, but lets an Indexed Job scale completions with parallelism', async () => {
    const r = await registry();
    const plain = await r.create<Obj>(JOBS, job({ completions: 3 }));
    const more = structuredClone(plain);
    more.spec.completions = 4;
    more.spec.parallelism = 4;
    assert.deepEqual(await causesOf(r.update(JOBS, more)), ['spec.completions: Invalid value: 4: field is immutable']);
    const idx = await r.create<Obj>(JOBS, { ...job({ completionMode: 'Indexed', completions: 3, parallelism: 3 }), metadata: { name: 'idx', namespace: 'default' } });
    const alone = structuredClone(idx);
    alone.spec.completions = 5;
    assert.deepEqual(await causesOf(r.update(JOBS, alone)), ['spec.completions: Invalid value: 5: can only be modified in tandem with spec.parallelism']);
    const both = structuredClone(idx);
    both.spec.completions = 5;
    both.spec.parallelism = 5;
    const scaled = await r.update<Obj>(JOBS, both);
    assert.deepEqual([scaled.spec.completions, scaled.spec.parallelism], [5, 5]);
    const mode = structuredClone(scaled);
    mode.spec.completionMode = 'NonIndexed';
    assert.ok((await causesOf(r.update(JOBS, mode))).some((c) => c.startsWith('spec.completionMode: ')));
  });

  it('lets a suspended Job that never ran change its scheduling directives, nothing else of its template', async () => {
    const r = await registry();
    const created = await r.create<Obj>(JOBS, job({ suspend: true }));
    const moved = structuredClone(created);
    moved.spec.template.spec.nodeSelector = { zone: 'a' };
    moved.spec.template.spec.tolerations = [{ key: 'k', operator: 'Exists' }];
    moved.spec.template.metadata.annotations = { note: 'x' };
    const updated = await r.update<Obj>(JOBS, moved);
    assert.deepEqual(updated.spec.template.spec.nodeSelector, { zone: 'a' });
    const image = structuredClone(updated);
    image.spec.template.spec.containers[0].image = 'perl:6';
    assert.deepEqual((await causesOf(r.update(JOBS, image))).map((c) => c.split(':')[0]), ['spec.template']);
    // Once it ran (startTime set), the whole template is fixed.
    await r.updateStatus(JOBS, { ...updated, status: { startTime: '2026-04-01T08:00:00Z' } });
    const started = structuredClone(r.get<Obj>(JOBS, 'default', 'pi')!);
    started.spec.template.spec.nodeSelector = { zone: 'b' };
    assert.deepEqual((await causesOf(r.update(JOBS, started))).map((c) => c.split(':')[0]), ['spec.template']);
  });

  it('prints NAME, STATUS, COMPLETIONS, DURATION, AGE', () => {
    const p = PRINTERS['jobs.batch'];
    assert.ok(p);
    assert.deepEqual(p.columns.slice(0, 5).map((c) => c.name), ['Name', 'Status', 'Completions', 'Duration', 'Age']);
    const now = new Date('2026-04-01T08:10:00Z');
    const running = { ...job({ completions: 4 }), metadata: { name: 'pi', creationTimestamp: '2026-04-01T08:00:00Z' }, status: { startTime: '2026-04-01T08:00:00Z', succeeded: 1 } };
    assert.deepEqual(p.cells(running, now).slice(0, 5), ['pi', 'Running', '1/4', '10m', '10m']);
    const done = { ...running, status: { startTime: '2026-04-01T08:00:00Z', completionTime: '2026-04-01T08:00:42Z', succeeded: 4, conditions: [{ type: 'Complete', status: 'True' }] } };
    assert.deepEqual(p.cells(done, now).slice(0, 5), ['pi', 'Complete', '4/4', '42s', '10m']);
    const queue = { ...job({ parallelism: 3 }), metadata: { name: 'q' }, status: { conditions: [{ type: 'Failed', status: 'True' }] } };
    assert.deepEqual(p.cells(queue, now).slice(0, 4), ['q', 'Failed', '0/1 of 3', '']);
  });
});

describe('Job validation without a uid', () => {
  it('does not ask a client-side check for the selector the server generates', () => {
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'j' },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'i' }] } } },
  };
  assert.deepEqual((validateJob(job as never) as { field?: string }[]).filter((c) => c.field === 'spec.selector'), []);
  const manual = { ...job, spec: { ...job.spec, manualSelector: true } };
  assert.ok((validateJob(manual as never) as { field?: string }[]).some((c) => c.field === 'spec.selector'), 'manualSelector without a selector must be refused');
  });
});
