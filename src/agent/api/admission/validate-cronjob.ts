// batch/v1 CronJob rules: a schedule Kubernetes can parse, an IANA time zone,
// the concurrency policy, non-negative deadline and history limits, and a job
// template valid under the Job rules (at spec.jobTemplate.spec...). The name
// leaves room for the `-<minutes since the epoch>` suffix of the Jobs it makes.
import type { StatusCause } from '../errors.ts';
import { invalid, notSupported, required } from './field-errors.ts';
import type { CronJobShape, JobShape } from './schemas.ts';
import { cronScheduleError } from './cron-schedule.ts';
import { timeZoneError } from './time-zone.ts';
import { validateJob } from './validate-job.ts';
import { validateAnnotations, validateLabels } from './validate-meta.ts';
import { nonNegative } from './validate-workloads.ts';

/** A DNS-1035 label (63) minus the 11 characters of the Job name suffix. */
export const CRONJOB_NAME_MAX = 52;
const CONCURRENCY_POLICIES = ['Allow', 'Forbid', 'Replace'];

function validateSchedule(schedule: string | null | undefined, timeZone: string | null | undefined): StatusCause[] {
  if (!schedule) return [required('spec.schedule')];
  // Kubernetes' own test is this broad; no valid schedule contains "TZ".
  if (schedule.includes('TZ')) {
    const detail = timeZone != null ? 'cannot use both timeZone field and TZ or CRON_TZ in schedule' : 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead';
    return [invalid('spec.schedule', schedule, detail)];
  }
  const err = cronScheduleError(schedule);
  return err ? [invalid('spec.schedule', schedule, `unparseable schedule: ${err}`)] : [];
}

/** The Job rules on the template's spec, their `spec.` paths moved under spec.jobTemplate. */
function validateJobTemplateSpec(spec: JobShape['spec']): StatusCause[] {
  // No uid: the selector is generated per Job, so the template need not carry one.
  const causes = validateJob({ spec }).map((c) => (c.field?.startsWith('spec') ? { ...c, field: `spec.jobTemplate.${c.field}` } : c));
  if (spec?.manualSelector === true) causes.push(notSupported('spec.jobTemplate.spec.manualSelector', true, ['nil', 'false']));
  return causes;
}

export function validateCronJob(cj: CronJobShape): StatusCause[] {
  const causes: StatusCause[] = [];
  const name = cj.metadata?.name;
  if (name && name.length > CRONJOB_NAME_MAX) causes.push(invalid('metadata.name', name, `must be no more than ${CRONJOB_NAME_MAX} characters`));
  const spec = cj.spec ?? {};
  causes.push(...validateSchedule(spec.schedule, spec.timeZone));
  if (spec.timeZone != null) {
    const err = timeZoneError(spec.timeZone);
    if (err) causes.push(invalid('spec.timeZone', spec.timeZone, err));
  }
  const policy = spec.concurrencyPolicy;
  if (!policy) causes.push(required('spec.concurrencyPolicy'));
  else if (!CONCURRENCY_POLICIES.includes(policy)) causes.push(notSupported('spec.concurrencyPolicy', policy, CONCURRENCY_POLICIES));
  causes.push(
    ...nonNegative(spec.startingDeadlineSeconds, 'spec.startingDeadlineSeconds'),
    ...nonNegative(spec.successfulJobsHistoryLimit, 'spec.successfulJobsHistoryLimit'),
    ...nonNegative(spec.failedJobsHistoryLimit, 'spec.failedJobsHistoryLimit'),
  );
  const template = spec.jobTemplate;
  causes.push(...validateLabels(template?.metadata?.labels, 'spec.jobTemplate.metadata.labels'));
  causes.push(...validateAnnotations(template?.metadata?.annotations, 'spec.jobTemplate.metadata.annotations'));
  causes.push(...validateJobTemplateSpec(template?.spec));
  return causes;
}
