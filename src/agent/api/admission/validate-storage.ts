// PersistentVolume and PersistentVolumeClaim rules, after Kubernetes'
// ValidatePersistentVolume(Claim)(Update): access modes, the storage quantity,
// one volume source with an absolute path, the node affinity of a volume, and
// what may change after creation (a claim's spec only by growing its storage
// request and by being bound once; a volume's source never).
import { posix } from 'node:path';
import type { StatusCause } from '../errors.ts';
import { ACCESS_MODES, RECLAIM_POLICIES } from '../persistent-volume-types.ts';
import { child, forbidden, index, invalid, key, notSupported, required } from './field-errors.ts';
import { validateLabelSelector } from './label-selector.ts';
import { isDns1123Subdomain, isLabelValue, isQualifiedName } from './name-rules.ts';
import { compareExact, parseQuantityExact, QUANTITY_FORMAT_ERROR, type ExactQuantity } from './quantity.ts';
import { sameJson } from './same-json.ts';
import type { PersistentVolumeClaimShape, PersistentVolumeShape } from './schemas.ts';

const SORTED_ACCESS_MODES = [...ACCESS_MODES].sort();
const SORTED_RECLAIM_POLICIES = [...RECLAIM_POLICIES].sort();
// Block volumes need a device the kubelet attaches; Mesh's kubelet bind-mounts directories only.
const VOLUME_MODES = ['Filesystem'];
const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'];
/** Volume sources of core/v1 that Mesh cannot mount; each is refused by name. */
const UNSUPPORTED_SOURCES = [
  'awsElasticBlockStore', 'azureDisk', 'azureFile', 'cephfs', 'cinder', 'csi', 'fc', 'flexVolume', 'flocker',
  'gcePersistentDisk', 'glusterfs', 'iscsi', 'nfs', 'photonPersistentDisk', 'portworxVolume', 'quobyte', 'rbd',
  'scaleIO', 'storageos', 'vsphereVolume',
];
const SUPPORTED_SOURCES = ['hostPath', 'local'];
const ZERO: ExactQuantity = { mantissa: 0n, exp10: 0 };

export const CLAIM_SPEC_IMMUTABLE =
  'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims';

type Quantity = string | number;

function validateAccessModes(modes: readonly string[] | null | undefined, path: string, requiredDetail?: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!modes || modes.length === 0) return [required(path, requiredDetail)];
  let oncePod = false;
  let other = false;
  for (const m of modes) {
    if (!(ACCESS_MODES as readonly string[]).includes(m)) causes.push(notSupported(path, m, SORTED_ACCESS_MODES));
    else if (m === 'ReadWriteOncePod') oncePod = true;
    else other = true;
  }
  if (oncePod && other) causes.push(forbidden(path, 'may not use ReadWriteOncePod with other access modes'));
  return causes;
}

/** A quantity that must parse and be above zero (ValidatePositiveQuantityValue). */
function positiveQuantity(value: Quantity, path: string): StatusCause[] {
  let q: ExactQuantity;
  try {
    q = parseQuantityExact(value);
  } catch {
    return [invalid(path, value, QUANTITY_FORMAT_ERROR)];
  }
  return compareExact(q, ZERO) <= 0 ? [invalid(path, value, 'must be greater than zero')] : [];
}

function validateClassName(name: string | null | undefined, path: string): StatusCause[] {
  if (!name) return [];
  return isDns1123Subdomain(name).map((m) => invalid(path, name, m));
}

function validateVolumeMode(mode: string | null | undefined, path: string): StatusCause[] {
  return mode != null && !VOLUME_MODES.includes(mode) ? [notSupported(path, mode, VOLUME_MODES)] : [];
}

function validatePath(p: string | null | undefined, path: string): StatusCause[] {
  if (!p) return [required(path)];
  const causes: StatusCause[] = [];
  if (!posix.isAbsolute(p)) causes.push(invalid(path, p, 'must be an absolute path'));
  if (p.split('/').includes('..')) causes.push(invalid(path, p, "must not contain '..'"));
  return causes;
}

type NodeSelectorTerms = NonNullable<NonNullable<NonNullable<PersistentVolumeShape['spec']>['nodeAffinity']>['required']>['nodeSelectorTerms'];
type Requirement = { key?: string | null; operator?: string | null; values?: string[] | null };

function validateNodeSelectorRequirement(r: Requirement, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) causes.push(required(child(path, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) causes.push(forbidden(child(path, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      break;
    case 'Gt':
    case 'Lt':
      if (values.length !== 1) causes.push(required(child(path, 'values'), "must be specified single value when `operator` is 'Lt' or 'Gt'"));
      break;
    default:
      causes.push(invalid(child(path, 'operator'), r.operator ?? '', 'not a valid selector operator'));
  }
  for (const m of isQualifiedName(r.key ?? '')) causes.push(invalid(child(path, 'key'), r.key ?? '', m));
  for (const [i, v] of values.entries()) for (const m of isLabelValue(v)) causes.push(invalid(index(child(path, 'values'), i), v, m));
  return causes;
}

function validateNodeSelectorField(r: Requirement, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (r.key !== 'metadata.name') causes.push(invalid(child(path, 'key'), r.key ?? '', 'not a valid field selector key'));
  if (r.operator !== 'In' && r.operator !== 'NotIn') causes.push(invalid(child(path, 'operator'), r.operator ?? '', 'not a valid selector operator'));
  else if ((r.values ?? []).length !== 1) {
    causes.push(required(child(path, 'values'), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"));
  }
  return causes;
}

function validateNodeAffinity(na: NonNullable<PersistentVolumeShape['spec']>['nodeAffinity'], path: string): StatusCause[] {
  if (!na) return [];
  if (!na.required) return [required(child(path, 'required'), 'must specify required node constraints')];
  const termsPath = child(child(path, 'required'), 'nodeSelectorTerms');
  const terms: NonNullable<NodeSelectorTerms> = na.required.nodeSelectorTerms ?? [];
  if (terms.length === 0) return [required(termsPath, 'must have at least one node selector term')];
  const causes: StatusCause[] = [];
  for (const [i, t] of terms.entries()) {
    const tp = index(termsPath, i);
    for (const [j, e] of (t.matchExpressions ?? []).entries()) causes.push(...validateNodeSelectorRequirement(e, index(child(tp, 'matchExpressions'), j)));
    for (const [j, f] of (t.matchFields ?? []).entries()) causes.push(...validateNodeSelectorField(f, index(child(tp, 'matchFields'), j)));
  }
  return causes;
}

export function validatePersistentVolumeClaim(pvc: PersistentVolumeClaimShape): StatusCause[] {
  const spec = pvc.spec ?? {};
  const causes = validateAccessModes(spec.accessModes, 'spec.accessModes', 'at least 1 access mode is required');
  if (spec.selector) causes.push(...validateLabelSelector(spec.selector, 'spec.selector'));
  const storage = spec.resources?.requests?.storage;
  const storagePath = key('spec.resources', 'storage');
  if (storage === undefined || storage === null) causes.push(required(storagePath));
  else causes.push(...positiveQuantity(storage, storagePath));
  causes.push(...validateClassName(spec.storageClassName, 'spec.storageClassName'));
  if (spec.volumeName) for (const m of isDns1123Subdomain(spec.volumeName)) causes.push(invalid('spec.volumeName', spec.volumeName, m));
  causes.push(...validateVolumeMode(spec.volumeMode, 'spec.volumeMode'));
  return causes;
}

function storageOf(spec: PersistentVolumeClaimShape['spec']): ExactQuantity | undefined {
  const v = spec?.resources?.requests?.storage;
  if (v === undefined || v === null) return undefined;
  try {
    return parseQuantityExact(v);
  } catch {
    return undefined;
  }
}

/**
 * Claims are immutable so quota and matching can't be gamed; the controllers
 * may set volumeName once, and a user may grow the storage request (expansion).
 */
export function validatePersistentVolumeClaimUpdate(pvc: PersistentVolumeClaimShape, old: PersistentVolumeClaimShape): StatusCause[] {
  const causes: StatusCause[] = [];
  const next = structuredClone(pvc.spec ?? {});
  const prev = structuredClone(old.spec ?? {});
  if (!prev.volumeName) prev.volumeName = next.volumeName;
  const newSize = storageOf(next);
  const oldSize = storageOf(prev);
  if (newSize && oldSize && next.resources?.requests && prev.resources?.requests) {
    next.resources.requests.storage = prev.resources.requests.storage!;
  }
  if (old.status?.phase === 'Bound') prev.volumeAttributesClassName = next.volumeAttributesClassName;
  if (!sameJson(next, prev)) causes.push(forbidden('spec', CLAIM_SPEC_IMMUTABLE));
  if (newSize && oldSize && compareExact(newSize, oldSize) < 0) {
    causes.push(forbidden('spec.resources.requests.storage', 'field can not be less than previous value'));
  }
  return causes;
}

function sourcesOf(spec: NonNullable<PersistentVolumeShape['spec']>): string[] {
  const raw = spec as Record<string, unknown>;
  return [...SUPPORTED_SOURCES, ...UNSUPPORTED_SOURCES].filter((s) => raw[s] !== undefined && raw[s] !== null);
}

export function validatePersistentVolume(pv: PersistentVolumeShape): StatusCause[] {
  const spec = pv.spec ?? {};
  const causes = validateAccessModes(spec.accessModes, 'spec.accessModes');
  const capacity = spec.capacity ?? {};
  const names = Object.keys(capacity);
  if (names.length === 0) causes.push(required('spec.capacity'));
  else if (!names.includes('storage') || names.length > 1) causes.push(notSupported('spec.capacity', capacity, ['storage']));
  for (const n of names) causes.push(...positiveQuantity(capacity[n]!, key('spec.capacity', n)));
  const policy = spec.persistentVolumeReclaimPolicy;
  if (policy && !(RECLAIM_POLICIES as readonly string[]).includes(policy)) {
    causes.push(notSupported('spec.persistentVolumeReclaimPolicy', policy, SORTED_RECLAIM_POLICIES));
  }
  causes.push(...validateNodeAffinity(spec.nodeAffinity, 'spec.nodeAffinity'));

  const sources = sourcesOf(spec);
  if (sources.length === 0) causes.push(required('spec', 'must specify a volume type'));
  for (const [i, s] of sources.entries()) {
    if (i > 0) {
      causes.push(forbidden(child('spec', s), 'may not specify more than 1 volume type'));
      continue;
    }
    if (UNSUPPORTED_SOURCES.includes(s)) {
      causes.push(forbidden(child('spec', s), 'this volume type is not supported by Mesh; use local or hostPath'));
    } else if (s === 'local') {
      causes.push(...validatePath(spec.local?.path, 'spec.local.path'));
    } else {
      causes.push(...validatePath(spec.hostPath?.path, 'spec.hostPath.path'));
      const type = spec.hostPath?.type;
      if (type != null && !HOST_PATH_TYPES.includes(type)) causes.push(notSupported('spec.hostPath.type', type, HOST_PATH_TYPES));
    }
  }
  if (spec.hostPath?.path && posix.normalize(spec.hostPath.path) === '/' && policy === 'Recycle') {
    causes.push(forbidden('spec.persistentVolumeReclaimPolicy', "may not be 'recycle' for a hostPath mount of '/'"));
  }
  causes.push(...validateClassName(spec.storageClassName, 'spec.storageClassName'));
  causes.push(...validateVolumeMode(spec.volumeMode, 'spec.volumeMode'));
  const ref = spec.claimRef;
  if (ref?.name) for (const m of isDns1123Subdomain(ref.name)) causes.push(invalid('spec.claimRef.name', ref.name, m));
  return causes;
}

/** What a volume is (its source, mode, and the nodes it lives on) can't change under the pods that use it. */
export function validatePersistentVolumeUpdate(pv: PersistentVolumeShape, old: PersistentVolumeShape): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec = (pv.spec ?? {}) as Record<string, unknown>;
  const prev = (old.spec ?? {}) as Record<string, unknown>;
  const changed = [...SUPPORTED_SOURCES, ...UNSUPPORTED_SOURCES].some((s) => !sameJson(spec[s], prev[s]));
  if (changed) causes.push(forbidden('spec.persistentvolumesource', 'spec.persistentvolumesource is immutable after creation'));
  if ((pv.spec?.volumeMode ?? null) !== (old.spec?.volumeMode ?? null)) causes.push(invalid('spec.volumeMode', pv.spec?.volumeMode ?? null, 'field is immutable'));
  if (old.spec?.nodeAffinity && !sameJson(pv.spec?.nodeAffinity, old.spec.nodeAffinity)) {
    causes.push(invalid('spec.nodeAffinity', pv.spec?.nodeAffinity ?? null, 'field is immutable'));
  }
  return causes;
}
