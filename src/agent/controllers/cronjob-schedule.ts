// The CronJob controller's decisions, pure: given a CronJob, the Jobs it
// controls and the time, what its status should say, which finished Jobs go,
// whether a Job starts now (and which active ones it replaces), and when to
// look again. Follows Kubernetes' cronjob controller v2 (syncCronJob,
// mostRecentScheduleTime, cleanupFinishedJobs).
import type { KubeObject } from '../api/object-types.ts';
import { parseCronSchedule, type CronSchedule } from '../api/admission/cron-schedule.ts';
import { rfc3339InZone, timeZoneError } from '../api/admission/time-zone.ts';
import type { Job } from './job-controller.ts';
import { newControllerRef } from './owner-refs.ts';

export const CRONJOB_KIND = 'CronJob';
export const CRONJOB_API_VERSION = 'batch/v1';
export const SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
/** Past this many missed start times Kubernetes warns (and still starts only the latest). */
export const TOO_MANY_MISSED = 100;
/** Waking a little after the schedule time keeps a clock skewed by NTP from landing just before it. */
export const REQUEUE_PADDING_MS = 100;

export interface JobReference {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid: string;
  resourceVersion?: string;
}

export interface CronJobStatus {
  active?: JobReference[];
  lastScheduleTime?: string;
  lastSuccessfulTime?: string;
}

export interface CronJob extends KubeObject {
  spec: {
    schedule: string;
    timeZone?: string | null;
    startingDeadlineSeconds?: number | null;
    concurrencyPolicy?: 'Allow' | 'Forbid' | 'Replace' | string;
    suspend?: boolean;
    jobTemplate?: {
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
      spec?: Job['spec'];
    };
    successfulJobsHistoryLimit?: number | null;
    failedJobsHistoryLimit?: number | null;
  };
  status?: CronJobStatus;
}

export interface CronJobEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface CronJobStart {
  scheduledTime: Date;
  job: Job;
  /** Active Jobs to delete first (concurrencyPolicy Replace). */
  replace: JobReference[];
}

export interface CronJobPlan {
  /** Status with finished and vanished Jobs out of active and the latest success noted. */
  status: CronJobStatus;
  events: CronJobEvent[];
  /** Finished Jobs beyond the history limits, oldest first. */
  prune: Job[];
  start?: CronJobStart;
  /** When to look again (just after the next schedule time); none when nothing is due ever. */
  requeueAfterMs?: number;
}

// ---- Job helpers ----------------------------------------------------------------

/** Complete or Failed (a True condition), or undefined while the Job runs. */
export function finishedAs(job: Job): 'Complete' | 'Failed' | undefined {
  for (const c of job.status?.conditions ?? []) {
    if (c.status === 'True' && (c.type === 'Complete' || c.type === 'Failed')) return c.type;
  }
  return undefined;
}

export function jobReference(job: Job): JobReference {
  const ref: JobReference = {
    apiVersion: CRONJOB_API_VERSION,
    kind: 'Job',
    name: job.metadata.name ?? '',
    namespace: job.metadata.namespace ?? 'default',
    uid: job.metadata.uid ?? '',
  };
  if (job.metadata.resourceVersion) ref.resourceVersion = job.metadata.resourceVersion;
  return ref;
}

/** `<cronjob>-<scheduled time in minutes since the epoch>`: the same name for the same slot on every leader. */
export function jobNameFor(cj: CronJob, scheduled: Date): string {
  return `${cj.metadata.name ?? ''}-${Math.floor(scheduled.getTime() / 60_000)}`;
}

/** The Job for one scheduled time: the template's labels, annotations and spec, owned by cj. */
export function jobForSchedule(cj: CronJob, scheduled: Date): Job {
  const template = cj.spec.jobTemplate ?? {};
  const metadata: Job['metadata'] = {
    name: jobNameFor(cj, scheduled),
    namespace: cj.metadata.namespace ?? 'default',
    annotations: { ...template.metadata?.annotations, [SCHEDULED_TIMESTAMP_ANNOTATION]: rfc3339InZone(scheduled, cj.spec.timeZone) },
    ownerReferences: [newControllerRef(cj, CRONJOB_KIND, CRONJOB_API_VERSION)],
  };
  const labels = template.metadata?.labels;
  if (labels && Object.keys(labels).length) metadata.labels = { ...labels };
  return { apiVersion: CRONJOB_API_VERSION, kind: 'Job', metadata, spec: structuredClone(template.spec ?? {}) };
}

/** Oldest first by status.startTime (unstarted last), then by name: Kubernetes' byJobStartTime. */
function byStartTime(a: Job, b: Job): number {
  const ta = Date.parse(a.status?.startTime ?? '');
  const tb = Date.parse(b.status?.startTime ?? '');
  const ha = Number.isFinite(ta);
  const hb = Number.isFinite(tb);
  if (ha !== hb) return ha ? -1 : 1;
  if (ha && ta !== tb) return ta - tb;
  const na = a.metadata.name ?? '';
  const nb = b.metadata.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** Finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit, oldest first. */
export function jobsBeyondHistory(cj: CronJob, jobs: readonly Job[]): Job[] {
  const over = (finished: Job[], limit: number | null | undefined) => (limit == null ? [] : finished.sort(byStartTime).slice(0, Math.max(0, finished.length - limit)));
  return [
    ...over(jobs.filter((j) => finishedAs(j) === 'Complete'), cj.spec.successfulJobsHistoryLimit),
    ...over(jobs.filter((j) => finishedAs(j) === 'Failed'), cj.spec.failedJobsHistoryLimit),
  ];
}

// ---- schedule times ---------------------------------------------------------------

export interface DueTime {
  /** The latest start time that is due and still within the starting deadline. */
  time?: Date;
  /** The latest start time, when it is past the starting deadline (and no later one is due). */
  tooLate?: Date;
  /** More than TOO_MANY_MISSED start times were missed inside the deadline window. */
  tooMany: boolean;
}

/**
 * The start time due now: the latest run in (earliest, now], where earliest is the
 * last schedule time (or the creation time); with a starting deadline only runs
 * within `deadline` seconds of now count, and a latest run before that is too late.
 */
export function dueTime(schedule: CronSchedule, earliestMs: number, now: Date, deadlineSeconds?: number | null): DueTime {
  const nowMs = now.getTime();
  const windowStart = deadlineSeconds == null ? earliestMs : Math.max(earliestMs, nowMs - deadlineSeconds * 1000);
  let count = 0;
  let latest: Date | undefined;
  // Walk at most TOO_MANY_MISSED + 1 runs: a clock off by years must not cost a run per minute.
  for (let t = schedule.next(new Date(windowStart)); t && t.getTime() <= nowMs; t = schedule.next(t)) {
    latest = t;
    if (++count > TOO_MANY_MISSED) {
      latest = schedule.latest(now);
      break;
    }
  }
  if (latest) return { time: latest, tooMany: count > TOO_MANY_MISSED };
  if (windowStart > earliestMs) {
    const missed = schedule.latest(new Date(windowStart));
    if (missed && missed.getTime() > earliestMs) return { tooLate: missed, tooMany: false };
  }
  return { tooMany: false };
}

/** `Mon, 02 Jan 2006 15:04:05 +0000`: Go's RFC1123Z in UTC, as Kubernetes' event text has it. */
function rfc1123z(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

function parseMs(s: string | undefined): number | undefined {
  const ms = Date.parse(s ?? '');
  return Number.isFinite(ms) ? ms : undefined;
}

// ---- the plan ---------------------------------------------------------------------

/** What to do for cj now. `jobs` are the Jobs cj controls (matched by uid). */
export function planCronJob(cj: CronJob, jobs: readonly Job[], now: Date): CronJobPlan {
  const events: CronJobEvent[] = [];
  const normal = (reason: string, message: string) => events.push({ type: 'Normal', reason, message });
  const warning = (reason: string, message: string) => events.push({ type: 'Warning', reason, message });
  const prev = cj.status ?? {};
  const byUid = new Map(jobs.map((j) => [j.metadata.uid ?? '', j]));
  let active = [...(prev.active ?? [])];
  let lastSuccessfulTime = prev.lastSuccessfulTime;

  const inActive = (uid: string | undefined) => active.some((r) => r.uid === uid);
  for (const j of jobs) {
    const finished = finishedAs(j);
    if (!finished && !inActive(j.metadata.uid)) {
      // Created by a leader that lost the status write, or by hand: the create of its slot settles it.
      warning('UnexpectedJob', `Saw a job that the controller did not create or forgot: ${j.metadata.name ?? ''}`);
    } else if (finished && inActive(j.metadata.uid)) {
      active = active.filter((r) => r.uid !== j.metadata.uid);
      normal('SawCompletedJob', `Saw completed job: ${j.metadata.name ?? ''}, condition: ${finished}`);
    }
    if (finished === 'Complete') {
      const done = parseMs(j.status?.completionTime);
      const last = parseMs(lastSuccessfulTime);
      if (done !== undefined && (last === undefined || done > last)) lastSuccessfulTime = j.status!.completionTime;
    }
  }
  for (const r of active) {
    if (!byUid.has(r.uid)) normal('MissingJob', `Active job went missing: ${r.name}`);
  }
  active = active.filter((r) => byUid.has(r.uid));

  const status: CronJobStatus = {};
  if (active.length) status.active = active;
  if (prev.lastScheduleTime) status.lastScheduleTime = prev.lastScheduleTime;
  if (lastSuccessfulTime) status.lastSuccessfulTime = lastSuccessfulTime;
  const plan: CronJobPlan = { status, events, prune: [] };
  // A CronJob being deleted only keeps its status true; the garbage collector takes its Jobs.
  if (cj.metadata.deletionTimestamp) return plan;
  plan.prune = jobsBeyondHistory(cj, jobs);

  const tz = cj.spec.timeZone;
  if (tz != null) {
    const err = timeZoneError(tz);
    if (err) {
      warning('UnknownTimeZone', `invalid timeZone: ${JSON.stringify(tz)}: ${err}`);
      return plan;
    }
  }
  if (cj.spec.suspend) return plan;
  const parsed = parseCronSchedule(cj.spec.schedule ?? '', tz);
  if (!parsed.ok) {
    warning('UnparseableSchedule', `unparseable schedule: ${JSON.stringify(cj.spec.schedule ?? '')} : ${parsed.error}`);
    return plan;
  }
  const schedule = parsed.schedule;
  const following = schedule.next(now);
  if (!following) {
    warning('InvalidSchedule', `invalid schedule: ${cj.spec.schedule} : it never fires`);
    return plan;
  }
  plan.requeueAfterMs = following.getTime() - now.getTime() + REQUEUE_PADDING_MS;

  const earliest = parseMs(prev.lastScheduleTime) ?? parseMs(cj.metadata.creationTimestamp) ?? now.getTime();
  const due = dueTime(schedule, earliest, now, cj.spec.startingDeadlineSeconds);
  if (due.tooLate) {
    warning('MissSchedule', `Missed scheduled time to start a job: ${rfc1123z(due.tooLate)}`);
    return plan;
  }
  const scheduled = due.time;
  if (!scheduled) return plan;
  if (due.tooMany) {
    warning('TooManyMissedTimes', 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew');
  }
  const name = jobNameFor(cj, scheduled);
  if (active.some((r) => r.name === name) || parseMs(prev.lastScheduleTime) === scheduled.getTime()) return plan;
  const policy = cj.spec.concurrencyPolicy ?? 'Allow';
  if (policy === 'Forbid' && active.length > 0) {
    normal('JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
    return plan;
  }
  plan.start = { scheduledTime: scheduled, job: jobForSchedule(cj, scheduled), replace: policy === 'Replace' ? [...active] : [] };
  return plan;
}
