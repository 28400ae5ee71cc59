import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../../src/agent/api/object-types.ts';
import { findByKind } from '../../../../src/agent/api/resources.ts';
import { applyDefaults } from '../../../../src/agent/api/admission/index.ts';
import { parseCronSchedule } from '../../../../src/agent/api/admission/cron-schedule.ts';
import { rfc3339InZone, timeZoneError } from '../../../../src/agent/api/admission/time-zone.ts';
import { strategicMergePatch } from '../../../../src/agent/api/patch/strategic-merge-patch.ts';
import { patchMetaFor } from '../../../../src/agent/api/patch/patch-meta.ts';
import { renderTable } from '../../../../src/agent/api/table/index.ts';
import { causesOf, checkAs, registry } from './fixtures.ts';

const CRONJOBS = 'cronjobs.batch';
type Obj = KubeObject & { spec: any; status?: any };

function cronJob(spec: Record<string, unknown> = {}, name = 'backup'): Obj {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name, namespace: 'default' },
    spec: {
      schedule: '*/5 * * * *',
      jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'busybox:1' }] } } } },
      ...spec,
    },
  };
}

function cronType() {
  const t = findByKind('batch/v1', 'CronJob');
  assert.ok(t, 'cronjobs.batch is served');
  return t;
}

/** Defaults a copy and validates it, as the CLI does; `field: message` per cause. */
function check(obj: Obj): string[] {
  return checkAs(cronType(), obj);
}

describe('CronJob admission', () => {
  it('fills the CronJob defaults and the Job defaults in the template', async () => {
    const r = await registry();
    const created = await r.create<Obj>(CRONJOBS, cronJob());
    assert.equal(created.spec.concurrencyPolicy, 'Allow');
    assert.equal(created.spec.suspend, false);
    assert.equal(created.spec.successfulJobsHistoryLimit, 3);
    assert.equal(created.spec.failedJobsHistoryLimit, 1);
    const jobSpec = created.spec.jobTemplate.spec;
    assert.equal(jobSpec.backoffLimit, 6);
    assert.equal(jobSpec.completions, 1);
    assert.equal(jobSpec.parallelism, 1);
    assert.equal(jobSpec.manualSelector, false);
    assert.equal(jobSpec.selector, undefined, 'the selector is generated per Job, not in the template');
    assert.equal(jobSpec.template.spec.containers[0].imagePullPolicy, 'IfNotPresent', 'pod template defaults too');
  });

  it('keeps what the user set over the defaults', () => {
    const obj = cronJob({ concurrencyPolicy: 'Forbid', successfulJobsHistoryLimit: 0, suspend: true });
    applyDefaults(cronType(), obj);
    assert.equal(obj.spec.concurrencyPolicy, 'Forbid');
    assert.equal(obj.spec.successfulJobsHistoryLimit, 0);
    assert.equal(obj.spec.suspend, true);
  });

  it('accepts 5-field schedules and the nicknames', () => {
    for (const schedule of ['0 3 * * 1-5', '*/15 9-17 * JAN-MAR mon,fri', '5/15 * ? * *', '@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']) {
      assert.deepEqual(check(cronJob({ schedule })), [], schedule);
    }
  });

  it('rejects a bad cron expression with 422 naming spec.schedule', async () => {
    const r = await registry();
    const causes = await causesOf(r.create(CRONJOBS, cronJob({ schedule: '61 * * * *' })));
    assert.equal(causes.length, 1);
    assert.match(causes[0]!, /^spec\.schedule: Invalid value: "61 \* \* \* \*": unparseable schedule: /);
    assert.equal(r.get(CRONJOBS, 'default', 'backup'), undefined, 'nothing stored');
  });

  it('rejects a 6-field (seconds) expression', () => {
    const causes = check(cronJob({ schedule: '0 */5 * * * *' }));
    assert.deepEqual(causes, ['spec.schedule: Invalid value: "0 */5 * * * *": unparseable schedule: expected exactly 5 fields, found 6: [0 */5 * * * *]']);
  });

  it('rejects syntax croner has but Kubernetes does not', () => {
    for (const schedule of ['0 0 L * *', '0 0 15W * *', '0 0 * * 5#2', '0 0 * * +MON', '@HOURLY', '@reboot', '@every 5m', 'hourly', '', '0 0 * FOO *']) {
      const causes = check(cronJob({ schedule }));
      assert.equal(causes.length, 1, `${JSON.stringify(schedule)}: ${causes.join('; ')}`);
      assert.ok(causes[0]!.startsWith('spec.schedule: '), causes[0]);
    }
  });

  it('rejects TZ and CRON_TZ prefixes: spec.timeZone is the way', () => {
    assert.deepEqual(check(cronJob({ schedule: 'CRON_TZ=Europe/Berlin 0 9 * * *' })), [
      'spec.schedule: Invalid value: "CRON_TZ=Europe/Berlin 0 9 * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead',
    ]);
    assert.deepEqual(check(cronJob({ schedule: 'TZ=UTC 0 9 * * *', timeZone: 'UTC' })), [
      'spec.schedule: Invalid value: "TZ=UTC 0 9 * * *": cannot use both timeZone field and TZ or CRON_TZ in schedule',
    ]);
  });

  it('requires a schedule', () => {
    const obj = cronJob();
    delete obj.spec.schedule;
    assert.deepEqual(check(obj), ['spec.schedule: Required value']);
  });

  it('rejects an unknown time zone naming spec.timeZone', async () => {
    const r = await registry();
    const causes = await causesOf(r.create(CRONJOBS, cronJob({ timeZone: 'Mars/Olympus_Mons' })));
    assert.deepEqual(causes, ['spec.timeZone: Invalid value: "Mars/Olympus_Mons": unknown time zone Mars/Olympus_Mons']);
  });

  it('accepts IANA zones and refuses offsets, Local, wrong case and bad characters', () => {
    for (const tz of ['Europe/Berlin', 'America/New_York', 'UTC', 'Etc/GMT+1']) assert.equal(timeZoneError(tz), undefined, tz);
    for (const tz of ['', '+01:00', '+01', 'Local', 'europe/berlin', '../etc/passwd', 'Europe/Berlin Wall']) {
      assert.ok(timeZoneError(tz), `${JSON.stringify(tz)} is refused`);
      assert.equal(check(cronJob({ timeZone: tz })).length, 1, tz);
    }
  });

  it('checks the concurrency policy, deadline and history limits', () => {
    assert.deepEqual(check(cronJob({ concurrencyPolicy: 'Sometimes' })), [
      'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
    ]);
    assert.deepEqual(check(cronJob({ concurrencyPolicy: '' })), ['spec.concurrencyPolicy: Required value']);
    assert.deepEqual(check(cronJob({ startingDeadlineSeconds: -1, successfulJobsHistoryLimit: -2, failedJobsHistoryLimit: -3 })), [
      'spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0',
      'spec.successfulJobsHistoryLimit: Invalid value: -2: must be greater than or equal to 0',
      'spec.failedJobsHistoryLimit: Invalid value: -3: must be greater than or equal to 0',
    ]);
    assert.deepEqual(check(cronJob({ startingDeadlineSeconds: 0, successfulJobsHistoryLimit: 0, failedJobsHistoryLimit: 0 })), []);
  });

  it('validates the job template with the Job rules under spec.jobTemplate.spec', () => {
    const obj = cronJob();
    obj.spec.jobTemplate.spec.template.spec.restartPolicy = 'Always';
    obj.spec.jobTemplate.spec.backoffLimit = -1;
    assert.deepEqual(check(obj), [
      'spec.jobTemplate.spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0',
      'spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
    ]);
    const manual = cronJob();
    manual.spec.jobTemplate.spec.manualSelector = true;
    manual.spec.jobTemplate.spec.selector = { matchLabels: { a: 'b' } };
    manual.spec.jobTemplate.spec.template.metadata = { labels: { a: 'b' } };
    assert.deepEqual(check(manual), ['spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false"']);
  });

  it('reports a type error in the template at its full path', () => {
    const obj = cronJob();
    obj.spec.jobTemplate.spec.parallelism = 'two';
    const causes = check(obj);
    assert.equal(causes.length, 1);
    assert.ok(causes[0]!.startsWith('spec.jobTemplate.spec.parallelism: '), causes[0]);
  });

  it('limits the name to 52 characters', () => {
    assert.deepEqual(check(cronJob({}, 'a'.repeat(52))), []);
    assert.deepEqual(check(cronJob({}, 'a'.repeat(53))), [`metadata.name: Invalid value: "${'a'.repeat(53)}": must be no more than 52 characters`]);
  });

  it('accepts the Job `kubectl create job --from=cronjob/x` sends', async () => {
    const r = await registry();
    const cj = await r.create<Obj>(CRONJOBS, cronJob({ jobTemplate: { metadata: { labels: { team: 'ops' } }, spec: cronJob().spec.jobTemplate.spec } }));
    // What kubectl builds: the stored template's labels and spec, a manual-instantiation
    // annotation, and a controller reference to the CronJob.
    const job = await r.create<Obj>('jobs.batch', {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'backup-manual-1',
        namespace: 'default',
        labels: cj.spec.jobTemplate.metadata.labels,
        annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'backup', uid: cj.metadata.uid!, controller: true }],
      },
      spec: cj.spec.jobTemplate.spec,
    });
    assert.deepEqual(job.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': job.metadata.uid } });
    assert.equal(job.spec.template.metadata.labels['batch.kubernetes.io/job-name'], 'backup-manual-1');
  });
});

describe('cron schedules (croner, read as Kubernetes does)', () => {
  const runs = (expr: string, from: string, n: number, tz?: string) => {
    const p = parseCronSchedule(expr, tz);
    assert.ok(p.ok, `${expr}: ${p.ok ? '' : p.error}`);
    const out: string[] = [];
    let t = new Date(from);
    for (let i = 0; i < n; i++) {
      const next = p.schedule.next(t);
      assert.ok(next);
      out.push(next.toISOString());
      t = next;
    }
    return out;
  };

  it('ORs day-of-month and day-of-week when both are restricted', () => {
    // 2025-06-13 is a Friday; "13th or any Friday".
    assert.deepEqual(runs('0 0 13 * 5', '2025-06-01T00:00:00Z', 4), [
      '2025-06-06T00:00:00.000Z',
      '2025-06-13T00:00:00.000Z',
      '2025-06-20T00:00:00.000Z',
      '2025-06-27T00:00:00.000Z',
    ]);
    assert.deepEqual(runs('0 0 3 * *', '2025-06-01T00:00:00Z', 2), ['2025-06-03T00:00:00.000Z', '2025-07-03T00:00:00.000Z']);
  });

  it('treats */1 in a day field as unrestricted, as robfig/cron does', () => {
    // Only Mondays: `*/1` days do not OR with the weekday.
    assert.deepEqual(runs('0 0 */1 * 1', '2025-06-01T00:00:00Z', 2), ['2025-06-02T00:00:00.000Z', '2025-06-09T00:00:00.000Z']);
  });

  it('reads N/step as N through the end of the range', () => {
    assert.deepEqual(runs('5/20 * * * *', '2025-06-01T00:00:00Z', 3), ['2025-06-01T00:05:00.000Z', '2025-06-01T00:25:00.000Z', '2025-06-01T00:45:00.000Z']);
  });

  it('reads wall-clock times in the time zone', () => {
    assert.deepEqual(runs('0 9 * * *', '2025-01-15T00:00:00Z', 1, 'Europe/Berlin'), ['2025-01-15T08:00:00.000Z']);
    assert.deepEqual(runs('0 9 * * *', '2025-07-15T00:00:00Z', 1, 'Europe/Berlin'), ['2025-07-15T07:00:00.000Z']);
  });

  it('finds the latest run at or before a time', () => {
    const p = parseCronSchedule('*/10 * * * *');
    assert.ok(p.ok);
    assert.equal(p.schedule.latest(new Date('2025-01-01T00:10:00.000Z'))?.toISOString(), '2025-01-01T00:10:00.000Z');
    assert.equal(p.schedule.latest(new Date('2025-01-01T00:09:59.999Z'))?.toISOString(), '2025-01-01T00:00:00.000Z');
  });

  it('never fires for a date that does not exist', () => {
    const p = parseCronSchedule('0 0 31 2 *');
    assert.ok(p.ok, 'Kubernetes parses it too');
    assert.equal(p.schedule.next(new Date('2025-01-01T00:00:00Z')), undefined);
  });

  it('prints RFC 3339 in the zone, Z for a zero offset', () => {
    const t = new Date('2025-01-15T08:00:00Z');
    assert.equal(rfc3339InZone(t, 'Europe/Berlin'), '2025-01-15T09:00:00+01:00');
    assert.equal(rfc3339InZone(t, 'America/New_York'), '2025-01-15T03:00:00-05:00');
    assert.equal(rfc3339InZone(t, 'Europe/London'), '2025-01-15T08:00:00Z');
    assert.equal(rfc3339InZone(t), '2025-01-15T08:00:00Z');
  });
});

describe('CronJob table and patch', () => {
  it('prints kubectl\'s cronjob columns', () => {
    const now = new Date('2025-03-01T12:00:00Z');
    const obj = cronJob({ timeZone: 'Europe/Berlin', suspend: false });
    obj.metadata.creationTimestamp = '2025-03-01T10:00:00Z';
    obj.status = { active: [{ name: 'backup-1', uid: 'u' }], lastScheduleTime: '2025-03-01T11:55:00Z' };
    const table = renderTable(cronType(), [obj], { includeObject: 'None', now });
    const row = Object.fromEntries(table.columnDefinitions.map((c, i) => [c.name, table.rows[0]!.cells[i]]));
    assert.deepEqual(row, {
      Name: 'backup',
      Schedule: '*/5 * * * *',
      Timezone: 'Europe/Berlin',
      Suspend: 'False',
      Active: 1,
      'Last Schedule': '5m',
      Age: '120m',
      Containers: 'c',
      Images: 'busybox:1',
      Selector: '<none>',
    });
    const bare = cronJob();
    delete bare.spec.suspend;
    const cells = renderTable(cronType(), [bare], { includeObject: 'None', now }).rows[0]!.cells;
    assert.deepEqual(cells.slice(2, 6), ['<none>', '<unset>', 0, '<none>']);
  });

  it('merges the template\'s containers by name under strategic merge patch', () => {
    const live = cronJob();
    live.spec.jobTemplate.spec.template.spec.containers[0].command = ['sh', '-c', 'backup'];
    const patch = { spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:2' }] } } } } } };
    const out = strategicMergePatch(live, patch, patchMetaFor('batch/v1', 'CronJob')) as Obj;
    assert.deepEqual(out.spec.jobTemplate.spec.template.spec.containers, [{ name: 'c', image: 'busybox:2', command: ['sh', '-c', 'backup'] }]);
  });
});
