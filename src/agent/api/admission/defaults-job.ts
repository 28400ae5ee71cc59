// batch/v1 Job defaulting (SetDefaults_Job) plus the selector the Job strategy
// generates on create: unless spec.manualSelector is true, the server owns the
// selector and labels the template with the Job's uid and name, so two Jobs of
// the same name over time never claim each other's pods.
import { defaultPodTemplate, isObj, objField, setDefault, type Json } from './defaults-pod.ts';

export const CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';
export const LEGACY_CONTROLLER_UID_LABEL = 'controller-uid';
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
export const LEGACY_JOB_NAME_LABEL = 'job-name';

/** The labels the server puts on a Job's template (and the controller on its pods). */
export function jobPodLabels(uid: string, name: string): Record<string, string> {
  return { [CONTROLLER_UID_LABEL]: uid, [LEGACY_CONTROLLER_UID_LABEL]: uid, [JOB_NAME_LABEL]: name, [LEGACY_JOB_NAME_LABEL]: name };
}

function generateSelector(job: Json, spec: Json): void {
  const meta = isObj(job.metadata) ? job.metadata : undefined;
  const uid = typeof meta?.uid === 'string' ? meta.uid : '';
  const name = typeof meta?.name === 'string' ? meta.name : '';
  // Without a uid (a client-side dry check) there is nothing to generate from.
  if (!uid) return;
  const template = objField(spec, 'template');
  const tmeta = template && objField(template, 'metadata');
  const labels = tmeta && objField(tmeta, 'labels');
  if (labels) for (const [k, v] of Object.entries(jobPodLabels(uid, name))) setDefault(labels, k, v);
  const selector = objField(spec, 'selector');
  const matchLabels = selector && objField(selector, 'matchLabels');
  if (matchLabels) setDefault(matchLabels, CONTROLLER_UID_LABEL, uid);
}

export function defaultJob(job: Json): void {
  const spec = objField(job, 'spec');
  if (!spec) return;
  // Both unset is a single-pod Job; parallelism alone is a work queue (completions stays unset).
  if ((spec.completions === undefined || spec.completions === null) && (spec.parallelism === undefined || spec.parallelism === null)) {
    spec.completions = 1;
  }
  setDefault(spec, 'parallelism', 1);
  setDefault(spec, 'backoffLimit', 6);
  setDefault(spec, 'completionMode', 'NonIndexed');
  setDefault(spec, 'suspend', false);
  setDefault(spec, 'manualSelector', false);
  if (spec.manualSelector !== true) generateSelector(job, spec);
  defaultPodTemplate(spec.template);
}
