// Workload rules (apps/v1 Deployment, ReplicaSet, StatefulSet, DaemonSet):
// selector present, non-empty and matching the template; template validated as
// a pod spec; rollout strategy fields; immutable selector on update.
import { z } from 'zod';
import type { StatusCause } from '../errors.ts';
import { child, duplicate, forbidden, index, invalid, notSupported, required } from './field-errors.ts';
import { isDns1123Label, isPercent } from './name-rules.ts';
import { isEmptySelector, selectorMatches, validateLabelSelector } from './label-selector.ts';
import type {
  DaemonSetShape,
  DeploymentShape,
  LabelSelectorShape,
  PodTemplateShape,
  ReplicaSetShape,
  StatefulSetShape,
} from './schemas.ts';
import { objectMetaSchema, persistentVolumeClaimSchema } from './schemas.ts';
import { validateAnnotations, validateLabels } from './validate-meta.ts';
import { validatePodSpec } from './validate-pod-spec.ts';
import { validatePersistentVolumeClaim } from './validate-storage.ts';
import { sameJson } from './same-json.ts';
import { zodIssuesToCauses } from './zod-causes.ts';

type IntOrString = number | string | null | undefined;

export function nonNegative(v: number | null | undefined, path: string): StatusCause[] {
  return v != null && v < 0 ? [invalid(path, v, 'must be greater than or equal to 0')] : [];
}

function intOrPercent(v: IntOrString, path: string): StatusCause[] {
  if (typeof v === 'string') return isPercent(v).map((m) => invalid(path, v, m));
  return nonNegative(v, path);
}

function intOrPercentValue(v: IntOrString): number {
  if (typeof v === 'string') return isPercent(v).length === 0 ? Number.parseInt(v, 10) : -1;
  return v ?? -1;
}

function notOver100Percent(v: IntOrString, path: string): StatusCause[] {
  return typeof v === 'string' && intOrPercentValue(v) > 100 ? [invalid(path, v, 'must not be greater than 100%')] : [];
}

/** maxSurge and maxUnavailable: each an int or percent, not both zero, unavailable at most 100%. */
function validateRollingUpdate(maxUnavailable: IntOrString, maxSurge: IntOrString, path: string): StatusCause[] {
  const causes = [...intOrPercent(maxUnavailable, `${path}.maxUnavailable`), ...intOrPercent(maxSurge, `${path}.maxSurge`)];
  if (intOrPercentValue(maxUnavailable) === 0 && intOrPercentValue(maxSurge) === 0) {
    causes.push(invalid(`${path}.maxUnavailable`, maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
  }
  causes.push(...notOver100Percent(maxUnavailable, `${path}.maxUnavailable`));
  return causes;
}

interface SelectorSpec {
  selector?: LabelSelectorShape | null;
  template?: PodTemplateShape | null;
}

/** A workload's pod template: its labels and annotations, the selector matching them, and the pod spec. */
export function validatePodTemplate(sel: LabelSelectorShape | null | undefined, template: PodTemplateShape): StatusCause[] {
  const causes: StatusCause[] = [];
  const labels = template.metadata?.labels ?? {};
  causes.push(...validateLabels(labels, 'spec.template.metadata.labels'));
  causes.push(...validateAnnotations(template.metadata?.annotations, 'spec.template.metadata.annotations'));
  if (sel && !isEmptySelector(sel) && !selectorMatches(sel, labels)) {
    causes.push(invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
  }
  causes.push(...validatePodSpec(template.spec, 'spec.template.spec'));
  return causes;
}

function validateSelectorAndTemplate(spec: SelectorSpec, kind: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const sel = spec.selector;
  if (!sel) causes.push(required('spec.selector'));
  else {
    causes.push(...validateLabelSelector(sel, 'spec.selector'));
    if (isEmptySelector(sel)) causes.push(invalid('spec.selector', sel, `empty selector is invalid for ${kind.toLowerCase()}`));
  }
  const template = spec.template;
  if (!template) {
    causes.push(required('spec.template'));
    return causes;
  }
  causes.push(...validatePodTemplate(sel, template));
  const rp = template.spec?.restartPolicy;
  if (rp != null && rp !== 'Always') causes.push(notSupported('spec.template.spec.restartPolicy', rp, ['Always']));
  if (template.spec?.activeDeadlineSeconds != null) {
    causes.push(forbidden('spec.template.spec.activeDeadlineSeconds', `activeDeadlineSeconds in ${kind} is not Supported`));
  }
  return causes;
}

export function validateDeployment(d: DeploymentShape): StatusCause[] {
  const spec = d.spec ?? {};
  const causes = [
    ...nonNegative(spec.replicas, 'spec.replicas'),
    ...nonNegative(spec.minReadySeconds, 'spec.minReadySeconds'),
    ...nonNegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit'),
    ...validateSelectorAndTemplate(spec, 'Deployment'),
  ];
  const strategy = spec.strategy;
  if (strategy?.type != null) {
    if (strategy.type === 'Recreate') {
      if (strategy.rollingUpdate) causes.push(forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
    } else if (strategy.type === 'RollingUpdate') {
      const ru = strategy.rollingUpdate;
      if (ru) causes.push(...validateRollingUpdate(ru.maxUnavailable, ru.maxSurge, 'spec.strategy.rollingUpdate'));
    } else {
      causes.push(notSupported('spec.strategy.type', strategy.type, ['Recreate', 'RollingUpdate']));
    }
  }
  const pds = spec.progressDeadlineSeconds;
  if (pds != null) {
    causes.push(...nonNegative(pds, 'spec.progressDeadlineSeconds'));
    if (pds <= (spec.minReadySeconds ?? 0)) causes.push(invalid('spec.progressDeadlineSeconds', pds, 'must be greater than minReadySeconds'));
  }
  return causes;
}

export function validateReplicaSet(rs: ReplicaSetShape): StatusCause[] {
  const spec = rs.spec ?? {};
  return [
    ...nonNegative(spec.replicas, 'spec.replicas'),
    ...nonNegative(spec.minReadySeconds, 'spec.minReadySeconds'),
    ...validateSelectorAndTemplate(spec, 'ReplicaSet'),
  ];
}

const RETENTION = ['Delete', 'Retain'];

const CLAIM_TEMPLATES = 'spec.volumeClaimTemplates';
const claimTemplatesSchema = z.array(z.looseObject({ metadata: objectMetaSchema.nullish(), spec: persistentVolumeClaimSchema.shape.spec }));

/**
 * volumeClaimTemplates: each name unique and a DNS label (it is the pods' volume
 * name), each spec a valid claim's (the controller creates claims from it).
 */
function validateClaimTemplates(sts: StatefulSetShape): StatusCause[] {
  const templates = sts.spec?.volumeClaimTemplates ?? [];
  const parsed = claimTemplatesSchema.safeParse(templates);
  if (!parsed.success) {
    return zodIssuesToCauses(sts, parsed.error.issues.map((i) => ({ ...i, path: ['spec', 'volumeClaimTemplates', ...i.path] })));
  }
  const causes: StatusCause[] = [];
  const names = new Set<string>();
  for (const [i, t] of parsed.data.entries()) {
    const p = index(CLAIM_TEMPLATES, i);
    const name = t.metadata?.name;
    const namePath = child(child(p, 'metadata'), 'name');
    if (!name) causes.push(required(namePath));
    else {
      for (const m of isDns1123Label(name)) causes.push(invalid(namePath, name, m));
      if (names.has(name)) causes.push(duplicate(namePath, name));
      names.add(name);
    }
    for (const c of validatePersistentVolumeClaim({ spec: t.spec })) causes.push({ ...c, field: c.field ? `${p}.${c.field}` : p });
  }
  return causes;
}

/** The template as the pods get it: a volume per claim template (what volumeMounts may name). */
function withClaimVolumes(template: PodTemplateShape | null | undefined, sts: StatefulSetShape): PodTemplateShape | null | undefined {
  const claims = (sts.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name).filter((n): n is string => !!n && isDns1123Label(n).length === 0);
  if (!template || claims.length === 0) return template;
  const own = template.spec?.volumes ?? [];
  const have = new Set(own.map((v) => v.name));
  const added = [...new Set(claims)].filter((n) => !have.has(n)).map((n) => ({ name: n, persistentVolumeClaim: { claimName: n } }));
  return { ...template, spec: { ...template.spec, volumes: [...own, ...added] } } as PodTemplateShape;
}

export function validateStatefulSet(sts: StatefulSetShape): StatusCause[] {
  const spec = sts.spec ?? {};
  const causes = [
    ...nonNegative(spec.replicas, 'spec.replicas'),
    ...nonNegative(spec.minReadySeconds, 'spec.minReadySeconds'),
    ...nonNegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit'),
    ...nonNegative(spec.ordinals?.start, 'spec.ordinals.start'),
    ...validateSelectorAndTemplate({ selector: spec.selector, template: withClaimVolumes(spec.template, sts) }, 'StatefulSet'),
    ...validateClaimTemplates(sts),
  ];
  // Optional (it never was enforced), but it becomes the pods' subdomain, so it must be a DNS label.
  if (spec.serviceName) for (const m of isDns1123Label(spec.serviceName)) causes.push(invalid('spec.serviceName', spec.serviceName, m));
  const pmp = spec.podManagementPolicy;
  if (pmp != null && pmp !== 'OrderedReady' && pmp !== 'Parallel') {
    causes.push(invalid('spec.podManagementPolicy', pmp, "must be 'OrderedReady' or 'Parallel'"));
  }
  const us = spec.updateStrategy;
  if (us?.type != null) {
    if (us.type === 'OnDelete') {
      if (us.rollingUpdate) causes.push(invalid('spec.updateStrategy.rollingUpdate', us.rollingUpdate, "only allowed for updateStrategy 'RollingUpdate'"));
    } else if (us.type === 'RollingUpdate') {
      causes.push(...nonNegative(us.rollingUpdate?.partition, 'spec.updateStrategy.rollingUpdate.partition'));
      const mu = us.rollingUpdate?.maxUnavailable;
      if (mu != null) {
        causes.push(...intOrPercent(mu, 'spec.updateStrategy.rollingUpdate.maxUnavailable'));
        if (intOrPercentValue(mu) === 0) causes.push(invalid('spec.updateStrategy.rollingUpdate.maxUnavailable', mu, 'must be greater than 0'));
      }
    } else {
      causes.push(invalid('spec.updateStrategy.type', us.type, "must be 'RollingUpdate' or 'OnDelete'"));
    }
  }
  const retention = spec.persistentVolumeClaimRetentionPolicy;
  for (const f of ['whenDeleted', 'whenScaled'] as const) {
    const v = retention?.[f];
    if (v != null && !RETENTION.includes(v)) causes.push(notSupported(`spec.persistentVolumeClaimRetentionPolicy.${f}`, v, RETENTION));
  }
  return causes;
}

export function validateDaemonSet(ds: DaemonSetShape): StatusCause[] {
  const spec = ds.spec ?? {};
  const causes = [
    ...nonNegative(spec.minReadySeconds, 'spec.minReadySeconds'),
    ...nonNegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit'),
    ...validateSelectorAndTemplate(spec, 'DaemonSet'),
  ];
  const us = spec.updateStrategy;
  if (us?.type != null) {
    if (us.type === 'RollingUpdate') {
      const ru = us.rollingUpdate;
      if (ru) causes.push(...validateRollingUpdate(ru.maxUnavailable, ru.maxSurge, 'spec.updateStrategy.rollingUpdate'), ...notOver100Percent(ru.maxSurge, 'spec.updateStrategy.rollingUpdate.maxSurge'));
    } else if (us.type !== 'OnDelete') {
      causes.push(notSupported('spec.updateStrategy.type', us.type, ['OnDelete', 'RollingUpdate']));
    }
  }
  return causes;
}

/** apps/v1 selectors are immutable: changing one would orphan the running pods. */
export function validateSelectorUpdate(spec: SelectorSpec | null | undefined, old: SelectorSpec | null | undefined): StatusCause[] {
  return sameJson(spec?.selector, old?.selector) ? [] : [invalid('spec.selector', spec?.selector ?? null, 'field is immutable')];
}

const STS_MUTABLE = ['replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'];

export function validateStatefulSetUpdate(sts: StatefulSetShape, old: StatefulSetShape): StatusCause[] {
  const strip = (spec: unknown): Record<string, unknown> => {
    const s = { ...((spec ?? {}) as Record<string, unknown>) };
    for (const f of STS_MUTABLE) delete s[f];
    return s;
  };
  if (sameJson(strip(sts.spec), strip(old.spec))) return [];
  return [
    forbidden(
      'spec',
      "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    ),
  ];
}
