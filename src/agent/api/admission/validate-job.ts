// batch/v1 Job rules: counts non-negative, a pod template that terminates
// (restartPolicy Never or OnFailure), a selector matching the template (the
// generated one unless manualSelector), and immutable selector and template.
import type { StatusCause } from '../errors.ts';
import { forbidden, invalid, notSupported, required } from './field-errors.ts';
import { isEmptySelector, validateLabelSelector } from './label-selector.ts';
import type { JobShape } from './schemas.ts';
import { nonNegative, validatePodTemplate } from './validate-workloads.ts';
import { sameJson } from './same-json.ts';
import { CONTROLLER_UID_LABEL } from './defaults-job.ts';

const RESTART_POLICIES = ['OnFailure', 'Never'];
const COMPLETION_MODES = ['NonIndexed', 'Indexed'];

export function validateJob(job: JobShape): StatusCause[] {
  const spec = job.spec ?? {};
  const causes = [
    ...nonNegative(spec.parallelism, 'spec.parallelism'),
    ...nonNegative(spec.completions, 'spec.completions'),
    ...nonNegative(spec.backoffLimit, 'spec.backoffLimit'),
    ...nonNegative(spec.ttlSecondsAfterFinished, 'spec.ttlSecondsAfterFinished'),
  ];
  const ads = spec.activeDeadlineSeconds;
  if (ads != null && ads <= 0) causes.push(invalid('spec.activeDeadlineSeconds', ads, 'must be greater than 0'));
  const mode = spec.completionMode;
  if (mode != null && !COMPLETION_MODES.includes(mode)) causes.push(notSupported('spec.completionMode', mode, COMPLETION_MODES));
  if (mode === 'Indexed' && spec.completions == null) causes.push(required('spec.completions', 'when completion mode is Indexed'));

  const sel = spec.selector;
  // Without a uid this is a client-side check (mesh apply): the server generates the selector then.
  if (!sel) {
    if (spec.manualSelector === true || job.metadata?.uid) causes.push(required('spec.selector'));
  } else {
    causes.push(...validateLabelSelector(sel, 'spec.selector'));
    if (isEmptySelector(sel)) causes.push(invalid('spec.selector', sel, 'empty selector is invalid for job'));
    const uid = job.metadata?.uid;
    if (spec.manualSelector !== true && uid && sel.matchLabels?.[CONTROLLER_UID_LABEL] !== uid) {
      causes.push(invalid('spec.selector', sel, '`selector` not auto-generated'));
    }
  }
  const template = spec.template;
  if (!template) {
    causes.push(required('spec.template'));
    return causes;
  }
  causes.push(...validatePodTemplate(sel, template));
  const rp = template.spec?.restartPolicy;
  if (!rp || !RESTART_POLICIES.includes(rp)) causes.push(notSupported('spec.template.spec.restartPolicy', rp ?? '', RESTART_POLICIES));
  return causes;
}

/** A running Job's pods were made from this selector and template; changing either would strand them. */
export function validateJobUpdate(job: JobShape, old: JobShape): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!sameJson(job.spec?.selector, old.spec?.selector)) causes.push(invalid('spec.selector', job.spec?.selector ?? null, 'field is immutable'));
  if (!sameJson(job.spec?.template, old.spec?.template)) causes.push(invalid('spec.template', job.spec?.template ?? null, 'field is immutable'));
  if (job.spec?.completionMode !== old.spec?.completionMode) causes.push(invalid('spec.completionMode', job.spec?.completionMode ?? null, 'field is immutable'));
  if (job.spec?.manualSelector !== old.spec?.manualSelector) causes.push(forbidden('spec.manualSelector', 'field is immutable'));
  return causes;
}
