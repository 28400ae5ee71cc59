// batch/v1 Job rules: counts non-negative, a pod template that terminates
// (restartPolicy Never or OnFailure), a selector matching the template (the
// generated one unless manualSelector), Indexed Jobs' limits (completions
// required, at most 100,000 indexes, `<job>-<last index>` a valid hostname),
// and on update: immutable selector, template (except the scheduling
// directives of a suspended Job that never ran), completionMode and
// completions (an Indexed Job may scale completions with parallelism).
import type { StatusCause } from '../errors.ts';
import { forbidden, invalid, notSupported, required } from './field-errors.ts';
import { isEmptySelector, validateLabelSelector } from './label-selector.ts';
import type { JobShape } from './schemas.ts';
import { nonNegative, validatePodTemplate } from './validate-workloads.ts';
import { sameJson } from './same-json.ts';
import { CONTROLLER_UID_LABEL } from './defaults-job.ts';
import { isDns1123Label } from './name-rules.ts';

const RESTART_POLICIES = ['OnFailure', 'Never'];
const COMPLETION_MODES = ['NonIndexed', 'Indexed'];
/** Kubernetes' maxParallelismForIndexedJob and maxCompletionsForIndexedJob. */
const MAX_INDEXES = 100_000;

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
  if (mode === 'Indexed') causes.push(...validateIndexed(spec, job.metadata?.name ?? undefined));

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

function validateIndexed(spec: NonNullable<JobShape['spec']>, name: string | undefined): StatusCause[] {
  const causes: StatusCause[] = [];
  const { completions, parallelism } = spec;
  if (completions == null) causes.push(required('spec.completions', 'when completion mode is Indexed'));
  else if (completions > MAX_INDEXES) causes.push(invalid('spec.completions', completions, `must be less than or equal to ${MAX_INDEXES} when completion mode is Indexed`));
  if (parallelism != null && parallelism > MAX_INDEXES) {
    causes.push(invalid('spec.parallelism', parallelism, `must be less than or equal to ${MAX_INDEXES} when completion mode is Indexed`));
  }
  // Each pod's hostname is `<job>-<index>`: the longest must be a DNS label.
  if (name && completions != null && completions > 0) {
    const hostname = `${name}-${completions - 1}`;
    if (isDns1123Label(hostname).length) causes.push(invalid('metadata.name', name, `will not able to create pod with invalid DNS label: ${hostname}`));
  }
  return causes;
}

type PodTemplate = NonNullable<NonNullable<JobShape['spec']>['template']>;

/** The template less what a suspended Job that never ran may change (kube's mutable scheduling directives). */
function withoutSchedulingDirectives(t: PodTemplate | null | undefined): unknown {
  if (!t) return t;
  const spec = { ...(t.spec ?? {}) } as Record<string, unknown>;
  delete spec.nodeSelector;
  delete spec.tolerations;
  delete spec.schedulingGates;
  const affinity = spec.affinity as Record<string, unknown> | null | undefined;
  if (affinity) {
    const rest = { ...affinity };
    delete rest.nodeAffinity;
    spec.affinity = rest;
  }
  const metadata = { ...(t.metadata ?? {}) } as Record<string, unknown>;
  delete metadata.labels;
  delete metadata.annotations;
  return { ...t, metadata, spec };
}

/** A running Job's pods were made from this selector and template; changing either would strand them. */
export function validateJobUpdate(job: JobShape, old: JobShape): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!sameJson(job.spec?.selector, old.spec?.selector)) causes.push(invalid('spec.selector', job.spec?.selector ?? null, 'field is immutable'));
  const neverRan = old.spec?.suspend === true && !(old.status as { startTime?: unknown } | undefined)?.startTime;
  const sameTemplate = neverRan
    ? sameJson(withoutSchedulingDirectives(job.spec?.template), withoutSchedulingDirectives(old.spec?.template))
    : sameJson(job.spec?.template, old.spec?.template);
  if (!sameTemplate) causes.push(invalid('spec.template', job.spec?.template ?? null, 'field is immutable'));
  causes.push(...validateCompletionsUpdate(job, old));
  if (job.spec?.completionMode !== old.spec?.completionMode) causes.push(invalid('spec.completionMode', job.spec?.completionMode ?? null, 'field is immutable'));
  if (job.spec?.manualSelector !== old.spec?.manualSelector) causes.push(forbidden('spec.manualSelector', 'field is immutable'));
  return causes;
}

/** completions is fixed, except that an Indexed Job may change it together with parallelism (an elastic Job). */
function validateCompletionsUpdate(job: JobShape, old: JobShape): StatusCause[] {
  const completions = job.spec?.completions ?? null;
  if (completions === (old.spec?.completions ?? null)) return [];
  if (job.spec?.completionMode !== 'Indexed') return [invalid('spec.completions', completions, 'field is immutable')];
  // Unset is refused by validateJob already (Indexed needs completions).
  if (completions !== null && completions !== job.spec?.parallelism) return [invalid('spec.completions', completions, 'can only be modified in tandem with spec.parallelism')];
  return [];
}
