// The Deployment controller, with Kubernetes' semantics (apps/v1):
// - one ReplicaSet per pod template, `<deployment>-<pod-template-hash>`, the hash
//   also in its labels, template labels and selector; controller reference to
//   the Deployment; matching orphan ReplicaSets are adopted, owned ones that
//   stopped matching are released;
// - revisions: the new set gets max(old)+1 in deployment.kubernetes.io/revision;
//   going back to an old template (kubectl rollout undo patches it in) reuses
//   that set and raises its revision; the Deployment's own annotations
//   (kubernetes.io/change-cause among them) are copied to the new set;
// - RollingUpdate within maxSurge/maxUnavailable, Recreate (old sets to 0, wait
//   until their pods are gone, then the new one), proportional scaling when
//   spec.replicas changes mid-rollout, paused (scaling only), revisionHistoryLimit;
// - status and the Available/Progressing conditions, with progressDeadlineSeconds
//   checked again through requeueAfterMs (deployment-status.ts).
// The arithmetic is in deployment-rollout.ts; this file reads the cache and writes.
// Pods are the ReplicaSet controller's: this controller only sizes ReplicaSets.
// Where it differs from Kubernetes, on purpose: the surge/availability bounds
// also count each set's live pods (ReplicaSetView), so a ReplicaSet status that
// lags a scale-down cannot breach them; a scale always brings the replicas
// annotations up to date; the Deployment's revision annotation is written by a
// metadata update, as the status subresource here takes only status.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject, Pod } from '../api/object-types.ts';
import { AlreadyExists, Conflict, NotFound } from '../api/errors.ts';
import { isEmptySelector, selectorMatches } from '../api/admission/label-selector.ts';
import { createEventRecorder, type EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import { jsonEqual } from '../store/json-equal.ts';
import { defineController, type Controller, type ControllerEvent, type ReconcileResult } from './controller.ts';
import { controllerRef, groupOf, newControllerRef, withOwnerRefs, withoutOwner } from './owner-refs.ts';
import { REPLICASET_RESOURCE, type ReplicaSet } from './replicaset-controller.ts';
import {
  DEPLOYMENT_RESOURCE,
  REVISION,
  desiredReplicas,
  equalIgnoreHash,
  findNewReplicaSet,
  isScalingEvent,
  maxRevision,
  maxSurge,
  newReplicaSetFor,
  newReplicaSetTarget,
  oldPodsRunning,
  planOldScaleDown,
  planScale,
  podTemplateHash,
  replicaSetsToPrune,
  replicasAnnotationsNeedUpdate,
  replicasOf,
  setDeploymentRevision,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  viewOf,
  type Deployment,
  type PodsBySet,
} from './deployment-rollout.ts';
import {
  PROGRESSING,
  REASON,
  calculateStatus,
  deploymentComplete,
  getCondition,
  hasProgressDeadline,
  newCondition,
  progressCheckInMs,
  rolloutStatus,
  setCondition,
} from './deployment-status.ts';
import { errorMessage as message } from './owned-pods.ts';

export { DEPLOYMENT_RESOURCE, podTemplateHash, type Deployment } from './deployment-rollout.ts';

const KIND = 'Deployment';
const API_VERSION = 'apps/v1';

export interface DeploymentControllerOptions {
  client: ObjectClient;
  logger: Logger;
  /** Where ScalingReplicaSet and friends go; by default Events of component `deployment-controller`. */
  events?: EventRecorder;
  clock?: () => Date;
  /** Periodic full resync (none by default: every change is watched). */
  resyncMs?: number;
}

/** One reconcile of one Deployment. */
interface Pass {
  /** Working copy: conditions and the revision annotation change here before they are written. */
  d: Deployment;
  /** The Deployment as last stored. */
  stored: Deployment;
  /** The ReplicaSets it controls, replaced as they are written. */
  sets: ReplicaSet[];
  newUid?: string;
  pods: PodsBySet;
}

const withoutVersion = (o: KubeObject) => ({ ...o, status: undefined, metadata: { ...o.metadata, resourceVersion: undefined } });

export function createDeploymentController(opts: DeploymentControllerOptions): Controller {
  const { client } = opts;
  const log = opts.logger.child({ component: 'deployment-controller' });
  const clock = opts.clock ?? (() => new Date());
  const events = opts.events ?? createEventRecorder({ client, source: { component: 'deployment-controller' }, logger: opts.logger, clock });
  const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`;
  const isOurKind = (ref: { kind: string; apiVersion: string }) => ref.kind === KIND && groupOf(ref.apiVersion) === 'apps';

  function selects(d: Deployment, labels: Record<string, string> | undefined): boolean {
    const sel = d.spec.selector;
    return !!sel && !isEmptySelector(sel) && selectorMatches(sel, labels ?? {});
  }

  // ---- watches -------------------------------------------------------------

  function replicaSetToKeys(event: ControllerEvent): string[] {
    const rs = event.object as ReplicaSet;
    const ns = rs.metadata.namespace ?? 'default';
    const ref = controllerRef(rs);
    if (ref) return isOurKind(ref) ? [`${ns}/${ref.name}`] : [];
    if (event.type === 'DELETED') return [];
    // An orphan: every Deployment that selects it may adopt it.
    return client
      .list<Deployment>(DEPLOYMENT_RESOURCE, { namespace: ns })
      .items.filter((d) => selects(d, rs.metadata.labels))
      .map(keyOf);
  }

  /** Recreate waits for old pods to be gone; their going changes no ReplicaSet status, so it is watched here. */
  function podToKeys(event: ControllerEvent): string[] {
    const pod = event.object as Pod;
    if (event.type !== 'DELETED' && !pod.metadata.deletionTimestamp) return [];
    const ref = controllerRef(pod);
    if (!ref || ref.kind !== 'ReplicaSet' || groupOf(ref.apiVersion) !== 'apps') return [];
    const ns = pod.metadata.namespace ?? 'default';
    const rs = client.get<ReplicaSet>(REPLICASET_RESOURCE, ns, ref.name);
    const owner = rs && rs.metadata.uid === ref.uid ? controllerRef(rs) : undefined;
    return owner && isOurKind(owner) ? [`${ns}/${owner.name}`] : [];
  }

  // ---- writes --------------------------------------------------------------

  /**
   * Writes a changed ReplicaSet. When only its status moved on since it was read
   * (the ReplicaSet controller reports often), the same change goes onto the
   * fresh copy; any other change is a real conflict, retried by the queue.
   */
  async function writeReplicaSet(read: ReplicaSet, next: ReplicaSet): Promise<ReplicaSet> {
    try {
      return await client.update<ReplicaSet>(REPLICASET_RESOURCE, next);
    } catch (err) {
      if (!(err instanceof Conflict)) throw err;
      const fresh = client.get<ReplicaSet>(REPLICASET_RESOURCE, read.metadata.namespace ?? 'default', read.metadata.name ?? '');
      if (!fresh || !jsonEqual(withoutVersion(fresh), withoutVersion(read))) throw err;
      return client.update<ReplicaSet>(REPLICASET_RESOURCE, { ...next, metadata: { ...next.metadata, resourceVersion: fresh.metadata.resourceVersion } });
    }
  }

  function replace(pass: Pass, rs: ReplicaSet): void {
    const i = pass.sets.findIndex((s) => s.metadata.uid === rs.metadata.uid);
    if (i >= 0) pass.sets[i] = rs;
    else pass.sets.push(rs);
  }

  function current(pass: Pass): { newSet?: ReplicaSet; old: ReplicaSet[] } {
    return {
      newSet: pass.sets.find((rs) => rs.metadata.uid === pass.newUid),
      old: pass.sets.filter((rs) => rs.metadata.uid !== pass.newUid),
    };
  }

  /** Writes the working status when it differs from the stored one. */
  async function commitStatus(pass: Pass): Promise<void> {
    if (jsonEqual(pass.d.status ?? {}, pass.stored.status ?? {})) return;
    try {
      // Status only, without a resourceVersion: a spec change meanwhile brings its own pass.
      pass.stored = await client.updateStatus<Deployment>(DEPLOYMENT_RESOURCE, { ...pass.stored, metadata: { ...pass.stored.metadata, resourceVersion: undefined }, status: pass.d.status });
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
    }
  }

  /** Writes the Deployment's revision annotation (Kubernetes carries it on the status write; here status writes take only status). */
  async function commitRevision(pass: Pass): Promise<void> {
    const want = pass.d.metadata.annotations?.[REVISION];
    if (want === undefined || want === pass.stored.metadata.annotations?.[REVISION]) return;
    const fresh = client.get<Deployment>(DEPLOYMENT_RESOURCE, pass.d.metadata.namespace ?? 'default', pass.d.metadata.name ?? '');
    // Gone or changed in spec: the pass for the newer spec sets it.
    if (!fresh || fresh.metadata.uid !== pass.d.metadata.uid || fresh.metadata.generation !== pass.d.metadata.generation) return;
    pass.stored = await client.update<Deployment>(DEPLOYMENT_RESOURCE, {
      ...fresh,
      metadata: { ...fresh.metadata, annotations: { ...fresh.metadata.annotations, [REVISION]: want } },
    });
  }

  // ---- ReplicaSets -------------------------------------------------------------

  /** The sets this Deployment controls after adopting matching orphans and releasing non-matching sets. */
  async function claimReplicaSets(d: Deployment): Promise<ReplicaSet[]> {
    const uid = d.metadata.uid ?? '';
    const deleting = !!d.metadata.deletionTimestamp;
    const claimed: ReplicaSet[] = [];
    for (const rs of client.list<ReplicaSet>(REPLICASET_RESOURCE, { namespace: d.metadata.namespace }).items) {
      const ref = controllerRef(rs);
      const matches = selects(d, rs.metadata.labels);
      if (ref) {
        if (ref.uid !== uid) continue; // someone else's: never stolen
        if (matches) claimed.push(rs);
        else if (!deleting) {
          await writeReplicaSet(rs, withOwnerRefs(rs, withoutOwner(rs, uid))).catch(ignoreNotFound);
          log.info({ deployment: keyOf(d), replicaset: rs.metadata.name }, 'released replicaset that stopped matching');
        }
        continue;
      }
      if (deleting || !matches || rs.metadata.deletionTimestamp) continue;
      const adopted = await writeReplicaSet(rs, withOwnerRefs(rs, [...(rs.metadata.ownerReferences ?? []), newControllerRef(d, KIND, API_VERSION)])).catch(ignoreNotFound);
      if (adopted) {
        claimed.push(adopted);
        log.info({ deployment: keyOf(d), replicaset: rs.metadata.name }, 'adopted replicaset');
      }
    }
    return claimed;
  }

  function ignoreNotFound(err: unknown): undefined {
    if (err instanceof NotFound) return undefined;
    throw err;
  }

  /** Sets rs to `replicas` (and the replicas annotations to the current count); scaled is true when the size changed. */
  async function scaleReplicaSet(pass: Pass, rs: ReplicaSet, replicas: number): Promise<boolean> {
    const d = pass.d;
    const desired = desiredReplicas(d);
    const max = desired + maxSurge(d);
    const from = replicasOf(rs);
    if (from === replicas && !replicasAnnotationsNeedUpdate(rs, desired, max)) return false;
    const next = structuredClone(rs);
    next.spec.replicas = replicas;
    setReplicasAnnotations(next, desired, max);
    replace(pass, await writeReplicaSet(rs, next));
    if (from === replicas) return false;
    const direction = from < replicas ? 'up' : 'down';
    log.info({ deployment: keyOf(d), replicaset: rs.metadata.name, from, to: replicas }, `scaled ${direction} replicaset`);
    await events.normal(d, 'ScalingReplicaSet', `Scaled ${direction} replica set ${rs.metadata.name} from ${from} to ${replicas}`);
    return true;
  }

  /**
   * getNewReplicaSet: finds the set of the current template (bringing its
   * annotations, revision and minReadySeconds up to date) or, when `create`,
   * makes it. Sets pass.newUid; undefined when there is none yet.
   */
  async function syncNewReplicaSet(pass: Pass, create: boolean): Promise<ReplicaSet | undefined> {
    const d = pass.d;
    const existing = findNewReplicaSet(d, pass.sets);
    const old = pass.sets.filter((rs) => rs !== existing);
    const revision = maxRevision(old) + 1;
    if (existing) {
      pass.newUid = existing.metadata.uid;
      const next = structuredClone(existing);
      const annotationsChanged = setNewReplicaSetAnnotations(d, next, revision, true);
      const minReadyChanged = (next.spec.minReadySeconds ?? 0) !== (d.spec.minReadySeconds ?? 0);
      if (annotationsChanged || minReadyChanged) {
        next.spec.minReadySeconds = d.spec.minReadySeconds;
        // Its update event brings the next pass, which records the revision on the Deployment.
        const written = await writeReplicaSet(existing, next);
        replace(pass, written);
        return written;
      }
      setDeploymentRevision(d, next.metadata.annotations?.[REVISION]);
      // Progress is measured from when the new set was first seen.
      if (hasProgressDeadline(d) && !getCondition(d.status, PROGRESSING)) {
        setCondition((d.status ??= {}), newCondition(PROGRESSING, 'True', REASON.foundNewReplicaSet, `Found new replica set "${existing.metadata.name}"`, clock()));
      }
      await commitRevision(pass);
      await commitStatus(pass);
      return existing;
    }
    if (!create) return undefined;

    const hash = podTemplateHash(d.spec.template, d.status?.collisionCount);
    const rs = newReplicaSetFor(d, hash);
    rs.metadata.ownerReferences = [newControllerRef(d, KIND, API_VERSION)];
    rs.spec.replicas = newReplicaSetTarget(d, { replicas: 0, size: 0 }, old.map((o) => viewOf(o, pass.pods, clock())));
    setNewReplicaSetAnnotations(d, rs, revision, false);
    let created: ReplicaSet;
    let alreadyExisted = false;
    try {
      created = await client.create<ReplicaSet>(REPLICASET_RESOURCE, rs);
    } catch (err) {
      if (err instanceof AlreadyExists) {
        const found = client.get<ReplicaSet>(REPLICASET_RESOURCE, d.metadata.namespace ?? 'default', rs.metadata.name ?? '');
        if (!found) throw err; // not in the cache yet: look again
        if (controllerRef(found)?.uid !== d.metadata.uid || !equalIgnoreHash(d.spec.template, found.spec.template)) {
          // Someone else's set has this name: a hash collision. The next pass hashes with the bumped count.
          (d.status ??= {}).collisionCount = (d.status.collisionCount ?? 0) + 1;
          await commitStatus(pass);
          log.info({ deployment: keyOf(d), replicaset: rs.metadata.name, collisionCount: d.status.collisionCount }, 'pod-template-hash collision');
          throw err;
        }
        created = found;
        alreadyExisted = true;
      } else {
        const msg = `Failed to create new replica set "${rs.metadata.name}": ${message(err)}`;
        if (hasProgressDeadline(d)) {
          setCondition((d.status ??= {}), newCondition(PROGRESSING, 'False', REASON.replicaSetCreateError, msg, clock()));
          await commitStatus(pass).catch(() => undefined); // the create error is the one to report
        }
        await events.warning(d, REASON.replicaSetCreateError, msg);
        throw err;
      }
    }
    pass.newUid = created.metadata.uid;
    replace(pass, created);
    const count = replicasOf(created);
    if (!alreadyExisted) {
      log.info({ deployment: keyOf(d), replicaset: created.metadata.name, replicas: count, revision }, 'created replicaset');
      if (count > 0) await events.normal(d, 'ScalingReplicaSet', `Scaled up replica set ${created.metadata.name} from 0 to ${count}`);
    }
    setDeploymentRevision(d, String(revision));
    if (!alreadyExisted && hasProgressDeadline(d)) {
      setCondition((d.status ??= {}), newCondition(PROGRESSING, 'True', REASON.newReplicaSetCreated, `Created new replica set "${created.metadata.name}"`, clock()));
    }
    await commitRevision(pass);
    await commitStatus(pass);
    return created;
  }

  /** Old sets beyond revisionHistoryLimit that are scaled down go, lowest revision first. */
  async function cleanup(pass: Pass): Promise<void> {
    for (const rs of replicaSetsToPrune(pass.d, current(pass).old)) {
      try {
        await client.delete(REPLICASET_RESOURCE, rs.metadata.namespace ?? 'default', rs.metadata.name ?? '', { preconditions: { uid: rs.metadata.uid } });
        log.info({ deployment: keyOf(pass.d), replicaset: rs.metadata.name }, 'deleted old replicaset beyond the revision history limit');
      } catch (err) {
        ignoreNotFound(err);
      }
      pass.sets = pass.sets.filter((s) => s.metadata.uid !== rs.metadata.uid);
    }
  }

  // ---- status --------------------------------------------------------------

  async function syncStatus(pass: Pass): Promise<void> {
    pass.d.status = calculateStatus(pass.d, pass.sets, current(pass).newSet, clock());
    await commitStatus(pass);
  }

  async function syncRolloutStatus(pass: Pass): Promise<ReconcileResult | void> {
    const now = clock();
    const status = rolloutStatus(pass.d, pass.sets, current(pass).newSet, now);
    pass.d.status = status;
    await commitStatus(pass);
    const ms = progressCheckInMs(pass.d, status, now);
    return ms === undefined ? undefined : { requeueAfterMs: ms };
  }

  /** Records pause and resume in Progressing (Unknown), unless the rollout already timed out. */
  async function checkPausedConditions(pass: Pass): Promise<void> {
    const d = pass.d;
    if (!hasProgressDeadline(d)) return;
    const cond = getCondition(d.status, PROGRESSING);
    if (cond?.reason === REASON.progressDeadlineExceeded) return;
    const pausedRecorded = cond?.reason === REASON.paused;
    if (d.spec.paused && !pausedRecorded) {
      setCondition((d.status ??= {}), newCondition(PROGRESSING, 'Unknown', REASON.paused, 'Deployment is paused', clock()));
    } else if (!d.spec.paused && pausedRecorded) {
      setCondition((d.status ??= {}), newCondition(PROGRESSING, 'Unknown', REASON.resumed, 'Deployment is resumed', clock()));
    } else return;
    await commitStatus(pass);
  }

  // ---- the strategies ----------------------------------------------------------

  /** Paused or scaled: sizes follow spec.replicas, no new set is made, no rollout step is taken. */
  async function sync(pass: Pass): Promise<void> {
    await syncNewReplicaSet(pass, false);
    const now = clock();
    const { newSet, old } = current(pass);
    for (const t of planScale(pass.d, newSet && viewOf(newSet, pass.pods, now), old.map((rs) => viewOf(rs, pass.pods, now)))) {
      await scaleReplicaSet(pass, pass.sets.find((s) => s.metadata.uid === t.rs.metadata.uid) ?? t.rs, t.replicas);
    }
    if (pass.d.spec.paused) await cleanup(pass);
    await syncStatus(pass);
  }

  async function rolloutRolling(pass: Pass): Promise<ReconcileResult | void> {
    const d = pass.d;
    const replicas = desiredReplicas(d);
    const newSet = (await syncNewReplicaSet(pass, true))!;
    const now = clock();
    const views = (sets: ReplicaSet[]) => sets.map((rs) => viewOf(rs, pass.pods, now));
    // Scale the new set up, if the surge allows.
    if (replicasOf(newSet) !== replicas) {
      const target = replicasOf(newSet) > replicas ? replicas : newReplicaSetTarget(d, viewOf(newSet, pass.pods, now), views(current(pass).old));
      if (await scaleReplicaSet(pass, newSet, target)) return syncRolloutStatus(pass);
    }
    // Scale old sets down, if availability allows.
    const { newSet: fresh, old } = current(pass);
    let scaledDown = false;
    for (const t of planOldScaleDown(d, viewOf(fresh!, pass.pods, now), views(old))) {
      if (await scaleReplicaSet(pass, t.rs, t.replicas)) scaledDown = true;
    }
    if (scaledDown) return syncRolloutStatus(pass);
    if (deploymentComplete(d, d.status ?? {})) await cleanup(pass);
    return syncRolloutStatus(pass);
  }

  async function rolloutRecreate(pass: Pass): Promise<ReconcileResult | void> {
    const d = pass.d;
    // Not created yet if missing: nothing new may run beside the old pods.
    await syncNewReplicaSet(pass, false);
    let scaledDown = false;
    for (const rs of current(pass).old) {
      if (replicasOf(rs) > 0 && (await scaleReplicaSet(pass, rs, 0))) scaledDown = true;
    }
    if (scaledDown || oldPodsRunning(current(pass).old, pass.pods)) return syncRolloutStatus(pass);
    const newSet = current(pass).newSet ?? (await syncNewReplicaSet(pass, true))!;
    await scaleReplicaSet(pass, newSet, desiredReplicas(d));
    if (deploymentComplete(d, d.status ?? {})) await cleanup(pass);
    return syncRolloutStatus(pass);
  }

  // ---- reconcile -----------------------------------------------------------

  async function reconcile(key: string): Promise<ReconcileResult | void> {
    const slash = key.indexOf('/');
    const stored = client.get<Deployment>(DEPLOYMENT_RESOURCE, key.slice(0, slash), key.slice(slash + 1));
    if (!stored) return;
    const d = structuredClone(stored);
    const sets: ReplicaSet[] = [];
    const pass: Pass = { d, stored, sets, pods: new Map() };
    const sel = d.spec.selector;
    if (!sel || isEmptySelector(sel) || !d.spec.template) {
      // Validation refuses these; were one stored, it would select every pod: act on nothing.
      if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
        d.status = { ...d.status, observedGeneration: d.metadata.generation };
        await commitStatus(pass);
      }
      return;
    }
    sets.push(...(await claimReplicaSets(d)));
    const uids = new Set(sets.map((rs) => rs.metadata.uid));
    const pods = new Map<string, Pod[]>();
    for (const p of client.list<Pod>('pods', { namespace: d.metadata.namespace }).items) {
      const uid = controllerRef(p)?.uid;
      if (uid && uids.has(uid)) pods.set(uid, [...(pods.get(uid) ?? []), p]);
    }
    pass.pods = pods;

    if (d.metadata.deletionTimestamp) {
      await syncNewReplicaSet(pass, false);
      return syncStatus(pass);
    }
    await checkPausedConditions(pass);
    if (d.spec.paused || isScalingEvent(d, sets)) return sync(pass);
    return d.spec.strategy?.type === 'Recreate' ? rolloutRecreate(pass) : rolloutRolling(pass);
  }

  return defineController({
    name: 'deployment-controller',
    resyncMs: opts.resyncMs,
    watches: [
      { resource: DEPLOYMENT_RESOURCE, toKeys: (e) => [keyOf(e.object)] },
      { resource: REPLICASET_RESOURCE, toKeys: replicaSetToKeys },
      { resource: 'pods', toKeys: podToKeys },
    ],
    reconcile,
  });
}
