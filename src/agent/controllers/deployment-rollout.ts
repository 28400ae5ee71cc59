// The arithmetic of Kubernetes' Deployment controller (pkg/controller/deployment
// and its util package), with no I/O: pod-template hashing, ReplicaSet revisions
// and annotations, the maxSurge/maxUnavailable fenceposts, and the sizes a rolling
// update, a proportional scale and the history limit give each ReplicaSet. The
// controller (deployment-controller.ts) reads the cache, asks these, and writes.
import type { KubeObject, Pod } from '../api/object-types.ts';
import type { LabelSelectorShape } from '../api/admission/schemas.ts';
import { jsonEqual } from '../store/json-equal.ts';
import { isPodActive, isPodAvailable, type ReplicaSet } from './replicaset-controller.ts';

export const DEPLOYMENT_RESOURCE = 'deployments.apps';
export const POD_TEMPLATE_HASH = 'pod-template-hash';
export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
export const CHANGE_CAUSE = 'kubernetes.io/change-cause';
// Deployment annotations that describe the Deployment itself, not a revision of it.
const NOT_COPIED = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION,
  REVISION_HISTORY,
  DESIRED_REPLICAS,
  MAX_REPLICAS,
  'deprecated.deployment.rollback.to',
]);
// Kubernetes caps the revision-history annotation at this many characters.
const MAX_REVISION_HISTORY_CHARS = 2000;
// The API server's defaults, for a strategy stored before defaulting filled them in.
const DEFAULT_SURGE = '25%';
const DEFAULT_UNAVAILABLE = '25%';

export type IntOrPercent = number | string;
export type PodTemplate = NonNullable<ReplicaSet['spec']['template']>;

export interface DeploymentCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: DeploymentCondition[];
  collisionCount?: number;
}

export interface Deployment extends KubeObject {
  spec: {
    replicas?: number;
    selector?: LabelSelectorShape;
    template?: PodTemplate;
    strategy?: { type?: string; rollingUpdate?: { maxSurge?: IntOrPercent | null; maxUnavailable?: IntOrPercent | null } | null };
    minReadySeconds?: number;
    revisionHistoryLimit?: number;
    paused?: boolean;
    progressDeadlineSeconds?: number;
  };
  status?: DeploymentStatus;
}

/**
 * What the rollout arithmetic knows of one ReplicaSet. Kubernetes reads only
 * spec and status, which lag the pods (the ReplicaSet controller deletes and
 * counts after the spec changed); so a set counts here as at least its live pods
 * against maxSurge, and as at most its live available pods towards minAvailable.
 * The bounds then hold on the pods themselves, not only on the specs.
 */
export interface ReplicaSetView {
  rs: ReplicaSet;
  /** spec.replicas. */
  replicas: number;
  /** Counted against maxSurge: spec.replicas, or more while a scale-down's pods are still live. */
  size: number;
  /** Counted towards minAvailable: status.availableReplicas, at most spec.replicas and the pods available now. */
  available: number;
}

export interface ScaleTarget {
  rs: ReplicaSet;
  replicas: number;
}

// ---- small readers ---------------------------------------------------------

export const desiredReplicas = (d: Deployment): number => d.spec.replicas ?? 1;
export const replicasOf = (rs: ReplicaSet): number => rs.spec.replicas ?? 1;
export const isRollingUpdate = (d: Deployment): boolean => (d.spec.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';

function sum(values: Iterable<number>): number {
  let n = 0;
  for (const v of values) n += v;
  return n;
}

function intAnnotation(o: KubeObject, key: string): number | undefined {
  const v = o.metadata.annotations?.[key];
  if (v === undefined || !/^-?\d+$/.test(v)) return undefined;
  return Number.parseInt(v, 10);
}

/** The revision annotation, 0 when absent or not a number (as MaxRevision skips it). */
export const revisionOf = (o: KubeObject): number => intAnnotation(o, REVISION) ?? 0;

export function maxRevision(sets: readonly ReplicaSet[]): number {
  return Math.max(0, ...sets.map(revisionOf));
}

function createdAt(o: KubeObject): number {
  const t = Date.parse(o.metadata.creationTimestamp ?? '');
  return Number.isFinite(t) ? t : 0;
}

/** Oldest first; the name breaks ties (timestamps have second precision). */
export function byCreation(a: KubeObject, b: KubeObject): number {
  return createdAt(a) - createdAt(b) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

// ---- fenceposts ------------------------------------------------------------

/** intstr.GetScaledValueFromIntOrPercent: an int as is, a percent of total rounded up or down. */
export function scaledValue(v: IntOrPercent, total: number, roundUp: boolean, field: string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) throw new Error(`${field}: invalid value "${v}": must be an integer or a percentage`);
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/**
 * maxSurge (rounded up) and maxUnavailable (rounded down) for the desired count.
 * Both may resolve to 0 through rounding (validation refuses an explicit 0/0);
 * then one pod may be unavailable, so the rollout can move at all.
 */
export function resolveFenceposts(d: Deployment): { surge: number; unavailable: number } {
  const replicas = desiredReplicas(d);
  const ru = d.spec.strategy?.rollingUpdate;
  const path = 'spec.strategy.rollingUpdate';
  const surge = scaledValue(ru?.maxSurge ?? DEFAULT_SURGE, replicas, true, `${path}.maxSurge`);
  let unavailable = scaledValue(ru?.maxUnavailable ?? DEFAULT_UNAVAILABLE, replicas, false, `${path}.maxUnavailable`);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

export function maxSurge(d: Deployment): number {
  return isRollingUpdate(d) ? resolveFenceposts(d).surge : 0;
}

export function maxUnavailable(d: Deployment): number {
  const replicas = desiredReplicas(d);
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  return Math.min(resolveFenceposts(d).unavailable, replicas);
}

// ---- templates and hashing ---------------------------------------------------

/** JSON with keys sorted at every level, so equal templates hash equally whatever their key order. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    // A field set to null is the field left out, as in Kubernetes' Go types: kubectl's
    // rollout undo sends the template with `creationTimestamp: null`.
    const keys = Object.keys(o).filter((k) => o[k] !== undefined && o[k] !== null).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

// Kubernetes' rand.SafeEncodeString alphabet: no vowels, so hashes never spell words.
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * The pod-template-hash: FNV-1a (32 bit) of the template, then of collisionCount
 * when set, encoded as Kubernetes' ComputeHash does (the decimal digits mapped
 * through the safe alphabet). A collision bumps collisionCount, which gives a new hash.
 */
export function podTemplateHash(template: PodTemplate | undefined, collisionCount?: number): string {
  let h = 0x811c9dc5;
  const feed = (bytes: Uint8Array) => {
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  };
  feed(Buffer.from(canonicalJson(template ?? {}), 'utf8'));
  if (collisionCount !== undefined) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(collisionCount >>> 0);
    feed(b);
  }
  return [...String(h)].map((c) => SAFE_ALPHABET[c.charCodeAt(0) % SAFE_ALPHABET.length]).join('');
}

function withoutHash(t: PodTemplate | undefined): unknown {
  const c = structuredClone(t ?? {});
  const labels = c.metadata?.labels;
  if (labels) {
    delete labels[POD_TEMPLATE_HASH];
    if (Object.keys(labels).length === 0) delete c.metadata!.labels;
  }
  return c;
}

/** Templates equal but for the pod-template-hash label (EqualIgnoreHash). */
export function equalIgnoreHash(a: PodTemplate | undefined, b: PodTemplate | undefined): boolean {
  return jsonEqual(withoutHash(a), withoutHash(b));
}

/** The oldest ReplicaSet whose template is the Deployment's. */
export function findNewReplicaSet(d: Deployment, sets: readonly ReplicaSet[]): ReplicaSet | undefined {
  return [...sets].sort(byCreation).find((rs) => equalIgnoreHash(rs.spec.template, d.spec.template));
}

/** The ReplicaSet a new pod template gets: name, hash label on it, its template and its selector; replicas 0. */
export function newReplicaSetFor(d: Deployment, hash: string): ReplicaSet {
  const template = structuredClone(d.spec.template ?? {});
  const labels = { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH]: hash };
  template.metadata = { ...template.metadata, labels };
  const sel = structuredClone(d.spec.selector ?? {});
  sel.matchLabels = { ...(sel.matchLabels ?? {}), [POD_TEMPLATE_HASH]: hash };
  const spec: ReplicaSet['spec'] = { replicas: 0, selector: sel, template };
  if (d.spec.minReadySeconds !== undefined) spec.minReadySeconds = d.spec.minReadySeconds;
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: `${d.metadata.name}-${hash}`, namespace: d.metadata.namespace, labels: { ...labels } },
    spec,
  };
}

// ---- annotations ------------------------------------------------------------

/** Sets desired-replicas and max-replicas; true when either changed. */
export function setReplicasAnnotations(rs: ReplicaSet, desired: number, max: number): boolean {
  const ann = (rs.metadata.annotations ??= {});
  let changed = false;
  for (const [k, v] of [[DESIRED_REPLICAS, String(desired)], [MAX_REPLICAS, String(max)]] as const) {
    if (ann[k] !== v) {
      ann[k] = v;
      changed = true;
    }
  }
  return changed;
}

export function replicasAnnotationsNeedUpdate(rs: ReplicaSet, desired: number, max: number): boolean {
  const ann = rs.metadata.annotations ?? {};
  return ann[DESIRED_REPLICAS] !== String(desired) || ann[MAX_REPLICAS] !== String(max);
}

/**
 * SetNewReplicaSetAnnotations: copies the Deployment's own annotations
 * (change-cause among them), raises the revision to `revision` when it is
 * lower (a rollback to this set: the old number goes to revision-history), and
 * for a set about to be created adds the replicas annotations. True when rs changed.
 */
export function setNewReplicaSetAnnotations(d: Deployment, rs: ReplicaSet, revision: number, exists: boolean): boolean {
  const ann = (rs.metadata.annotations ??= {});
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
    if (NOT_COPIED.has(k) || ann[k] === v) continue;
    ann[k] = v;
    changed = true;
  }
  const old = ann[REVISION];
  if (old !== undefined && old !== '' && !/^\d+$/.test(old)) return changed; // someone else's value: left alone
  const oldRevision = old ? Number.parseInt(old, 10) : 0;
  if (oldRevision < revision) {
    ann[REVISION] = String(revision);
    changed = true;
    if (old) ann[REVISION_HISTORY] = appendRevisionHistory(ann[REVISION_HISTORY] ?? '', old);
  }
  const replicas = desiredReplicas(d);
  if (!exists && setReplicasAnnotations(rs, replicas, replicas + maxSurge(d))) changed = true;
  return changed;
}

function appendRevisionHistory(history: string, revision: string): string {
  if (!history) return revision;
  const parts = history.split(',');
  let length = history.length + revision.length + 1;
  let start = 0;
  while (length > MAX_REVISION_HISTORY_CHARS && start < parts.length) length -= parts[start++]!.length + 1;
  return length <= MAX_REVISION_HISTORY_CHARS ? [...parts.slice(start), revision].join(',') : history;
}

/** Sets the Deployment's revision annotation; true when it changed. */
export function setDeploymentRevision(d: Deployment, revision: string | undefined): boolean {
  if (revision === undefined) return false;
  const ann = (d.metadata.annotations ??= {});
  if (ann[REVISION] === revision) return false;
  ann[REVISION] = revision;
  return true;
}

// ---- sizes ---------------------------------------------------------------

/** Pods grouped by the uid of the ReplicaSet that controls them. */
export type PodsBySet = ReadonlyMap<string, readonly Pod[]>;

export function viewOf(rs: ReplicaSet, pods: PodsBySet, now: Date): ReplicaSetView {
  const replicas = replicasOf(rs);
  const live = (pods.get(rs.metadata.uid ?? '') ?? []).filter(isPodActive);
  const availableNow = live.filter((p) => isPodAvailable(p, rs.spec.minReadySeconds ?? 0, now)).length;
  return {
    rs,
    replicas,
    size: Math.max(replicas, live.length),
    available: Math.min(rs.status?.availableReplicas ?? 0, replicas, availableNow),
  };
}

/**
 * NewRSNewReplicas: the new set's size now. Recreate: the full count. Rolling:
 * grow while the total stays within replicas+maxSurge, never past replicas.
 */
export function newReplicaSetTarget(d: Deployment, newSet: Pick<ReplicaSetView, 'replicas' | 'size'>, others: readonly ReplicaSetView[]): number {
  const replicas = desiredReplicas(d);
  if (!isRollingUpdate(d)) return replicas;
  const maxTotal = replicas + maxSurge(d);
  const total = newSet.size + sum(others.map((v) => v.size));
  if (total >= maxTotal) return newSet.replicas;
  return newSet.replicas + Math.max(0, Math.min(maxTotal - total, replicas - newSet.replicas));
}

/**
 * reconcileOldReplicaSets: how far the old sets shrink. At most
 * total - minAvailable - (new set's unavailable) replicas may go. First the old
 * sets' unavailable replicas, oldest set first (removing them costs no
 * availability, and they would otherwise block the rollout); then available
 * ones, while the available count stays at or above replicas - maxUnavailable.
 */
export function planOldScaleDown(d: Deployment, newSet: ReplicaSetView, old: readonly ReplicaSetView[]): ScaleTarget[] {
  const oldTotal = sum(old.map((v) => v.replicas));
  if (oldTotal === 0) return [];
  const allTotal = oldTotal + newSet.replicas;
  const minAvailable = desiredReplicas(d) - maxUnavailable(d);
  const newUnavailable = newSet.replicas - newSet.available;
  const maxScaledDown = allTotal - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return [];

  const sorted = [...old].sort((a, b) => byCreation(a.rs, b.rs));
  const target = new Map(sorted.map((v) => [v, v.replicas]));
  let cleaned = 0;
  for (const v of sorted) {
    if (cleaned >= maxScaledDown) break;
    const unhealthy = v.replicas - v.available;
    if (v.replicas === 0 || unhealthy <= 0) continue;
    const n = Math.min(maxScaledDown - cleaned, unhealthy);
    target.set(v, v.replicas - n);
    cleaned += n;
  }

  const available = newSet.available + sum(old.map((v) => v.available));
  if (available > minAvailable) {
    const budget = available - minAvailable;
    let done = 0;
    for (const v of sorted) {
      if (done >= budget) break;
      const cur = target.get(v)!;
      if (cur === 0) continue;
      const n = Math.min(cur, budget - done);
      target.set(v, cur - n);
      done += n;
    }
  }
  return sorted.filter((v) => target.get(v) !== v.replicas).map((v) => ({ rs: v.rs, replicas: target.get(v)! }));
}

/** IsSaturated: the new set has all replicas, desired by the current count, all available. */
export function isSaturated(d: Deployment, rs: ReplicaSet): boolean {
  const replicas = desiredReplicas(d);
  return replicasOf(rs) === replicas && intAnnotation(rs, DESIRED_REPLICAS) === replicas && (rs.status?.availableReplicas ?? 0) === replicas;
}

/** A set with replicas whose desired-replicas annotation is not the Deployment's count: spec.replicas changed. */
export function isScalingEvent(d: Deployment, sets: readonly ReplicaSet[]): boolean {
  const replicas = desiredReplicas(d);
  return sets.some((rs) => {
    if (replicasOf(rs) <= 0) return false;
    const desired = intAnnotation(rs, DESIRED_REPLICAS);
    return desired !== undefined && desired !== replicas;
  });
}

/**
 * Kubernetes' scale(): the sizes after spec.replicas changed.
 * - One active set (or none: the newest): it gets the full count.
 * - A saturated new set: the old ones go to 0.
 * - Rolling update mid-rollout: the difference between replicas+maxSurge and
 *   the current total is shared in proportion to each set's size relative to
 *   the max-replicas it was last scaled for (rounded), largest sets first
 *   (newer first when adding, older first when removing); what rounding leaves
 *   over goes to the first, the largest.
 * Every active set is listed, so its replicas annotations follow the new count
 * even where its size stays (Kubernetes skips the single-set case when the size
 * already matches, which can leave a stale annotation reporting a scaling event).
 */
export function planScale(d: Deployment, newSet: ReplicaSetView | undefined, old: readonly ReplicaSetView[]): ScaleTarget[] {
  const replicas = desiredReplicas(d);
  const newestFirst = [...old].sort((a, b) => byCreation(b.rs, a.rs));
  const candidates = newSet ? [newSet, ...newestFirst] : newestFirst;
  const active = candidates.filter((v) => v.replicas > 0);
  if (active.length === 0) return candidates.length ? [{ rs: candidates[0]!.rs, replicas }] : [];
  if (active.length === 1) return [{ rs: active[0]!.rs, replicas }];
  if (newSet && isSaturated(d, newSet.rs)) return old.filter((v) => v.replicas > 0).map((v) => ({ rs: v.rs, replicas: 0 }));
  if (!isRollingUpdate(d)) return [];

  const allowed = replicas > 0 ? replicas + maxSurge(d) : 0;
  const toAdd = allowed - sum(active.map((v) => v.replicas));
  const newerFirst = toAdd > 0;
  const sorted = [...active].sort((a, b) => b.replicas - a.replicas || (newerFirst ? byCreation(b.rs, a.rs) : byCreation(a.rs, b.rs)));
  const sizes = new Map<ReplicaSetView, number>();
  let added = 0;
  for (const v of sorted) {
    const p = toAdd === 0 ? 0 : proportion(d, v.rs, toAdd, added);
    sizes.set(v, v.replicas + p);
    added += p;
  }
  if (toAdd !== 0) sizes.set(sorted[0]!, Math.max(0, sizes.get(sorted[0]!)! + toAdd - added));
  return sorted.map((v) => ({ rs: v.rs, replicas: sizes.get(v)! }));
}

/** GetReplicaSetProportion: this set's share of toAdd, never past what is left of it. */
function proportion(d: Deployment, rs: ReplicaSet, toAdd: number, added: number): number {
  if (replicasOf(rs) === 0 || toAdd === added) return 0;
  const fraction = replicaSetFraction(d, rs);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

function replicaSetFraction(d: Deployment, rs: ReplicaSet): number {
  const rsReplicas = replicasOf(rs);
  const replicas = desiredReplicas(d);
  if (replicas === 0) return -rsReplicas;
  const maxNow = replicas + maxSurge(d);
  let before = intAnnotation(rs, MAX_REPLICAS) ?? 0;
  // A set someone made or edited by hand: measure against the Deployment's size.
  if (before <= 0) before = d.status?.replicas ?? 0;
  // Nothing to measure against: no share; the leftover goes to the largest set.
  if (before <= 0) return 0;
  return Math.round((rsReplicas * maxNow) / before) - rsReplicas;
}

/**
 * cleanupDeployment: old sets beyond revisionHistoryLimit, lowest revision first,
 * that are fully scaled down (spec, status, and the status is of the latest spec).
 */
export function replicaSetsToPrune(d: Deployment, old: readonly ReplicaSet[]): ReplicaSet[] {
  const limit = d.spec.revisionHistoryLimit;
  if (limit === undefined || limit === null) return [];
  const alive = old.filter((rs) => !rs.metadata.deletionTimestamp);
  const excess = alive.length - limit;
  if (excess <= 0) return [];
  return [...alive]
    .sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(a, b))
    .slice(0, excess)
    .filter((rs) => (rs.status?.replicas ?? 0) === 0 && replicasOf(rs) === 0 && (rs.metadata.generation ?? 0) <= (rs.status?.observedGeneration ?? 0));
}

/** Recreate waits for this to be false: old sets report no pods and no old pod is left but finished ones. */
export function oldPodsRunning(old: readonly ReplicaSet[], pods: PodsBySet): boolean {
  if (sum(old.map((rs) => rs.status?.replicas ?? 0)) > 0) return true;
  return old.some((rs) => (pods.get(rs.metadata.uid ?? '') ?? []).some((p) => p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded'));
}
