// The CronJob controller (batch/v1): starts a Job from spec.jobTemplate at each
// schedule time, as Kubernetes' cronjob controller v2 does. The decisions are in
// cronjob-schedule.ts; this shell reads the CronJob and its Jobs, carries out the
// plan (history deletes, Replace deletes, the create) and writes the status.
//
// A Job's name is fixed by its scheduled time, so a slot re-evaluated by a new
// leader (the old one created the Job but lost its status write, or both acted
// around a leader change) creates it once: AlreadyExists on a Job this CronJob
// controls counts as the create having happened.
import type { ObjectClient } from '../api/object-client.ts';
import { AlreadyExists, NotFound } from '../api/errors.ts';
import { rfc3339 } from '../api/registry.ts';
import { createEventRecorder, type EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import { defineController, type Controller, type ControllerEvent, type ReconcileResult } from './controller.ts';
import { JOB_RESOURCE, type Job } from './job-controller.ts';
import { controllerRef, groupOf, isControlledBy } from './owner-refs.ts';
import { writeStatusIfChanged } from './keyed-object.ts';
import { errorMessage } from './owned-pods.ts';
import { CRONJOB_KIND, jobReference, planCronJob, type CronJob, type CronJobStatus, type JobReference } from './cronjob-schedule.ts';

export const CRONJOB_RESOURCE = 'cronjobs.batch';

export interface CronJobControllerOptions {
  client: ObjectClient;
  logger: Logger;
  /** Where SuccessfulCreate/MissSchedule/... go; by default Events of component `cronjob-controller`. */
  events?: EventRecorder;
  clock?: () => Date;
  resyncMs?: number;
}

/** The status without empty fields, so a write happens only on a real change. */
function normalStatus(s: CronJobStatus | undefined): CronJobStatus {
  const out: CronJobStatus = {};
  if (s?.active?.length) out.active = s.active;
  if (s?.lastScheduleTime) out.lastScheduleTime = s.lastScheduleTime;
  if (s?.lastSuccessfulTime) out.lastSuccessfulTime = s.lastSuccessfulTime;
  return out;
}

export function createCronJobController(opts: CronJobControllerOptions): Controller {
  const { client } = opts;
  const log = opts.logger.child({ component: 'cronjob-controller' });
  const clock = opts.clock ?? (() => new Date());
  const events = opts.events ?? createEventRecorder({ client, source: { component: 'cronjob-controller' }, logger: opts.logger, clock });
  const keyOf = (ns: string | undefined, name: string | undefined) => `${ns ?? 'default'}/${name ?? ''}`;

  function jobToKeys(event: ControllerEvent): string[] {
    const job = event.object;
    const ref = controllerRef(job);
    if (!ref || ref.kind !== CRONJOB_KIND || groupOf(ref.apiVersion) !== 'batch') return [];
    return [keyOf(job.metadata.namespace, ref.name)];
  }

  /** Deletes a Job and what it owns in the background; false (with a FailedDelete event) when that failed. */
  async function deleteJob(cj: CronJob, ref: { name: string; uid: string }): Promise<boolean> {
    try {
      await client.delete(JOB_RESOURCE, cj.metadata.namespace ?? 'default', ref.name, {
        propagationPolicy: 'Background',
        preconditions: { uid: ref.uid },
      });
    } catch (err) {
      if (err instanceof NotFound) return true;
      await events.warning(cj, 'FailedDelete', `Deleted job: ${errorMessage(err)}`);
      log.warn({ err, cronjob: keyOf(cj.metadata.namespace, cj.metadata.name), job: ref.name }, 'could not delete job');
      return false;
    }
    await events.normal(cj, 'SuccessfulDelete', `Deleted job ${ref.name}`);
    return true;
  }

  /**
   * Creates the Job of a slot; the reference to put in active, or undefined when the
   * name is taken by a Job this CronJob does not control (the slot is then given up).
   */
  async function createJob(cj: CronJob, job: Job): Promise<JobReference | undefined> {
    const ns = cj.metadata.namespace ?? 'default';
    const name = job.metadata.name ?? '';
    try {
      const created = await client.create<Job>(JOB_RESOURCE, job);
      await events.normal(cj, 'SuccessfulCreate', `Created job ${name}`);
      log.info({ cronjob: keyOf(ns, cj.metadata.name), job: name }, 'created job');
      return jobReference(created);
    } catch (err) {
      if (!(err instanceof AlreadyExists)) {
        await events.warning(cj, 'FailedCreate', `Error creating job: ${errorMessage(err)}`);
        throw err;
      }
    }
    const existing = client.get<Job>(JOB_RESOURCE, ns, name);
    // Gone again between the create and this read: the next pass sees the truth.
    if (!existing) throw new NotFound(`jobs.batch "${name}" not found`);
    if (!isControlledBy(existing, cj)) {
      await events.warning(cj, 'FailedCreate', `Error creating job: job ${name} already exists and is not controlled by this CronJob`);
      return undefined;
    }
    log.info({ cronjob: keyOf(ns, cj.metadata.name), job: name }, 'job of this schedule time already exists');
    return jobReference(existing);
  }

  async function writeStatus(cj: CronJob, status: CronJobStatus): Promise<void> {
    // Both sides normalized: an empty list or a missing field is no change.
    await writeStatusIfChanged(client, CRONJOB_RESOURCE, { ...cj, status: normalStatus(cj.status) }, normalStatus(status));
  }

  async function reconcile(key: string): Promise<ReconcileResult | void> {
    const slash = key.indexOf('/');
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const cj = client.get<CronJob>(CRONJOB_RESOURCE, ns, name);
    if (!cj) return;
    const now = clock();
    const jobs = client.list<Job>(JOB_RESOURCE, { namespace: ns }).items.filter((j) => isControlledBy(j, cj));
    const plan = planCronJob(cj, jobs, now);
    const status = plan.status;
    const dropActive = (uid: string) => {
      const rest = (status.active ?? []).filter((r) => r.uid !== uid);
      if (rest.length) status.active = rest;
      else delete status.active;
    };
    for (const e of plan.events) {
      if (e.type === 'Warning') await events.warning(cj, e.reason, e.message);
      else await events.normal(cj, e.reason, e.message);
    }
    for (const j of plan.prune) {
      if (await deleteJob(cj, { name: j.metadata.name ?? '', uid: j.metadata.uid ?? '' })) dropActive(j.metadata.uid ?? '');
    }

    let error: unknown;
    const start = plan.start;
    if (start) {
      try {
        for (const ref of start.replace) {
          if (!(await deleteJob(cj, ref))) throw new Error(`could not replace job ${ns}/${ref.name}`);
          dropActive(ref.uid);
        }
        const ref = await createJob(cj, start.job);
        if (ref && !(status.active ?? []).some((r) => r.uid === ref.uid)) status.active = [...(status.active ?? []), ref];
        status.lastScheduleTime = rfc3339(start.scheduledTime);
      } catch (err) {
        error = err;
      }
    }
    await writeStatus(cj, status);
    if (error !== undefined) throw error;
    return plan.requeueAfterMs === undefined ? undefined : { requeueAfterMs: plan.requeueAfterMs };
  }

  return defineController({
    name: 'cronjob-controller',
    resyncMs: opts.resyncMs,
    watches: [
      { resource: CRONJOB_RESOURCE, toKeys: (e) => [keyOf(e.object.metadata.namespace, e.object.metadata.name)] },
      { resource: JOB_RESOURCE, toKeys: jobToKeys },
    ],
    reconcile,
  });
}
