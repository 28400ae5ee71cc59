// Admission: Kubernetes defaulting and validation for every type we serve.
// Two layers: zod schemas check JSON types (schemas.ts); plain functions check
// what zod can't express (formats, enums, cross-field and update rules).
// Everything is pure so the CLI can run the same checks before sending.
import type { KubeObject } from '../object-types.ts';
import type { ResourceType } from '../resources.ts';
import { invalidObject, type StatusCause } from '../errors.ts';
import { applyDefaults } from './defaults.ts';
import { isDns1035Label, isDns1123Label, isDns1123Subdomain } from './name-rules.ts';
import * as s from './schemas.ts';
import { zodIssuesToCauses } from './zod-causes.ts';
import { validateObjectMeta, validateObjectMetaUpdate, type NameRule } from './validate-meta.ts';
import { validatePodSpec } from './validate-pod-spec.ts';
import { validatePodSpecUpdate } from './validate-pod-update.ts';
import { validateService, validateServiceUpdate } from './validate-service.ts';
import { validateConfigMap, validateConfigMapUpdate, validateSecret, validateSecretUpdate } from './validate-config.ts';
import { validateEndpoints, validateEvent, validateNamespace, validateNode } from './validate-cluster.ts';
import { validateEndpointSlice, validateEndpointSliceUpdate } from './validate-endpoint-slice.ts';
import {
  validateDaemonSet,
  validateDeployment,
  validateReplicaSet,
  validateSelectorUpdate,
  validateStatefulSet,
  validateStatefulSetUpdate,
} from './validate-workloads.ts';
import { validateJob, validateJobUpdate } from './validate-job.ts';
import { validateHpa } from './validate-hpa.ts';
import { validateCronJob } from './validate-cronjob.ts';
import {
  validatePersistentVolume,
  validatePersistentVolumeClaim,
  validatePersistentVolumeClaimUpdate,
  validatePersistentVolumeUpdate,
} from './validate-storage.ts';

export { applyDefaults } from './defaults.ts';
export { podQosClass, type QosClass } from './qos.ts';
export { parseQuantity, compareQuantities, isQuantity } from './quantity.ts';

interface KindRules {
  nameRule: NameRule;
  validate?: (obj: never) => StatusCause[];
  validateUpdate?: (obj: never, old: never) => StatusCause[];
}

function rules<T>(r: {
  nameRule: NameRule;
  validate?: (obj: T) => StatusCause[];
  validateUpdate?: (obj: T, old: T) => StatusCause[];
}): KindRules {
  return r as KindRules;
}

const BY_KIND: Record<string, KindRules> = {
  Namespace: rules<s.NamespaceShape>({ nameRule: isDns1123Label, validate: validateNamespace }),
  Pod: rules<s.PodShape>({
    nameRule: isDns1123Subdomain,
    validate: (p) => validatePodSpec(p.spec, 'spec'),
    validateUpdate: (p, old) => validatePodSpecUpdate(p.spec, old.spec),
  }),
  Service: rules<s.ServiceShape>({ nameRule: isDns1035Label, validate: validateService, validateUpdate: validateServiceUpdate }),
  ConfigMap: rules<s.ConfigMapShape>({ nameRule: isDns1123Subdomain, validate: validateConfigMap, validateUpdate: validateConfigMapUpdate }),
  Secret: rules<s.SecretShape>({ nameRule: isDns1123Subdomain, validate: validateSecret, validateUpdate: validateSecretUpdate }),
  Node: rules<s.NodeShape>({ nameRule: isDns1123Subdomain, validate: validateNode }),
  Event: rules<s.EventShape>({ nameRule: isDns1123Subdomain, validate: validateEvent }),
  Endpoints: rules<s.EndpointsShape>({ nameRule: isDns1123Subdomain, validate: validateEndpoints }),
  EndpointSlice: rules<s.EndpointSliceShape>({ nameRule: isDns1123Subdomain, validate: validateEndpointSlice, validateUpdate: validateEndpointSliceUpdate }),
  Deployment: rules<s.DeploymentShape>({
    nameRule: isDns1123Subdomain,
    validate: validateDeployment,
    validateUpdate: (d, old) => validateSelectorUpdate(d.spec, old.spec),
  }),
  ReplicaSet: rules<s.ReplicaSetShape>({
    nameRule: isDns1123Subdomain,
    validate: validateReplicaSet,
    validateUpdate: (rs, old) => validateSelectorUpdate(rs.spec, old.spec),
  }),
  StatefulSet: rules<s.StatefulSetShape>({ nameRule: isDns1123Subdomain, validate: validateStatefulSet, validateUpdate: validateStatefulSetUpdate }),
  DaemonSet: rules<s.DaemonSetShape>({
    nameRule: isDns1123Subdomain,
    validate: validateDaemonSet,
    validateUpdate: (ds, old) => validateSelectorUpdate(ds.spec, old.spec),
  }),
  Job: rules<s.JobShape>({ nameRule: isDns1123Subdomain, validate: validateJob, validateUpdate: validateJobUpdate }),
  HorizontalPodAutoscaler: rules<s.HorizontalPodAutoscalerShape>({ nameRule: isDns1123Subdomain, validate: validateHpa }),
  CronJob: rules<s.CronJobShape>({ nameRule: isDns1123Subdomain, validate: validateCronJob }),
  PersistentVolumeClaim: rules<s.PersistentVolumeClaimShape>({
    nameRule: isDns1123Subdomain,
    validate: validatePersistentVolumeClaim,
    validateUpdate: validatePersistentVolumeClaimUpdate,
  }),
  PersistentVolume: rules<s.PersistentVolumeShape>({
    nameRule: isDns1123Subdomain,
    validate: validatePersistentVolume,
    validateUpdate: validatePersistentVolumeUpdate,
  }),
};

const DEFAULT_RULES: KindRules = { nameRule: isDns1123Subdomain };

/**
 * One cause per bad field. Type errors are reported alone, as the API server's
 * decoder rejects them before validation runs; semantic rules assume the types hold.
 * `old` (the stored object) turns on the update rules.
 */
export function validateObject(type: ResourceType, obj: KubeObject, old?: KubeObject): StatusCause[] {
  const schema = s.schemaForKind(type.kind);
  const parsed = schema.safeParse(obj);
  if (!parsed.success) return zodIssuesToCauses(obj, parsed.error.issues);
  const r = BY_KIND[type.kind] ?? DEFAULT_RULES;
  const shaped = obj as unknown as { metadata?: s.ObjectMetaShape | null };
  const causes = validateObjectMeta(shaped.metadata, { nameRule: r.nameRule, namespaced: type.namespaced });
  causes.push(...(r.validate?.(obj as never) ?? []));
  // An old object of the wrong shape can't be compared field by field; skip the update rules then.
  if (old && schema.safeParse(old).success) {
    causes.push(...validateObjectMetaUpdate(shaped.metadata, (old as unknown as typeof shaped).metadata));
    causes.push(...(r.validateUpdate?.(obj as never, old as never) ?? []));
  }
  return causes;
}

/** Defaults, then validates; throws the 422 Invalid that Kubernetes returns. */
export function admit(type: ResourceType, obj: KubeObject, old?: KubeObject): void {
  applyDefaults(type, obj);
  const causes = validateObject(type, obj, old);
  const name = obj?.metadata?.name;
  if (causes.length > 0) throw invalidObject(type.kind, typeof name === 'string' ? name : undefined, causes, type.group);
}
