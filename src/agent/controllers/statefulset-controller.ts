// The StatefulSet controller (apps/v1), with Kubernetes' semantics:
// - stable identities <sts>-<ordinal> (spec.ordinals.start honoured), each pod
//   with hostname = its name and subdomain = spec.serviceName, so the headless
//   Service gives it <pod>.<svc>.<ns>.svc.cluster.local; a pod that failed or
//   is gone comes back under the same name;
// - stable storage: a claim per volumeClaimTemplate and ordinal, created before
//   the pod and kept when pods are replaced or scaled away, unless
//   persistentVolumeClaimRetentionPolicy says Delete (then the claim's controller
//   reference is the set or the scaled-down pod, and the garbage collector removes it);
// - OrderedReady: one pod at a time in ordinal order, each Running and Ready
//   (for minReadySeconds) before the next; scale-down from the highest ordinal,
//   one at a time. Parallel: all at once, both ways (statefulset-pods.ts decides);
// - revisions: ControllerRevisions <sts>-<hash> holding the template patch
//   kubectl's rollout history/undo read; status.currentRevision/updateRevision;
//   revisionHistoryLimit prunes the ones no pod uses;
// - RollingUpdate replaces pods not at the update revision from the highest
//   ordinal down to the partition, one at a time; OnDelete replaces only pods that are gone;
// - claims orphan pods that its selector matches and its naming claims (as the
//   ReplicaSet controller does), and releases pods that stopped matching;
// - "expectations" as in the ReplicaSet controller: it waits to see its own pod writes.
// A StatefulSet being deleted is left alone (the garbage collector handles its pods,
// claims and revisions). maxUnavailable > 1 is not implemented: updates go one at a time.
import type { KubeObject, Pod } from '../api/object-types.ts';
import { AlreadyExists, NotFound } from '../api/errors.ts';
import { isEmptySelector, selectorMatches } from '../api/admission/label-selector.ts';
import { defineController, type Controller, type ControllerEvent, type ReconcileResult } from './controller.ts';
import {
  createControllerHistory,
  newControllerRevision,
  revisionsToPrune,
  syncUpdateRevision,
  templateOfRevision,
  DEFAULT_REVISION_HISTORY_LIMIT,
  type ControllerRevision,
} from './controller-revisions.ts';
import { controllerRef, groupOf, newControllerRef, withOwnerRefs, withoutOwner } from './owner-refs.ts';
import { getByKey, writeStatusIfChanged } from './keyed-object.ts';
import { createPodOwnerParts, errorMessage as message, observeOwnedPod, ownerWatch, type PodOwnerControllerOptions } from './owned-pods.ts';
import { requeueWhenAvailable } from './pod-availability.ts';
import {
  CLAIM_RESOURCE,
  STATEFULSET_API_VERSION as API_VERSION,
  STATEFULSET_KIND as KIND,
  STATEFULSET_RESOURCE,
  claimIsStale,
  claimNamesFor,
  claimOwnersFor,
  claimOwnersUpToDate,
  claimsFor,
  identityMatches,
  newStatefulSetPod,
  ordinalOf,
  planPass,
  podNameFor,
  revisionOf,
  statefulSetStatus,
  withIdentity,
  type PersistentVolumeClaim,
  type PodTemplate,
  type StatefulSet,
} from './statefulset-pods.ts';

export { STATEFULSET_RESOURCE, type StatefulSet } from './statefulset-pods.ts';

/** Events go by default to component `statefulset-controller`. */
export type StatefulSetControllerOptions = PodOwnerControllerOptions;

/** sts's revision of its current template (kube's newRevision): template labels, set annotations. */
export function statefulSetRevision(sts: StatefulSet, revision: number, collisionCount: number): ControllerRevision {
  return newControllerRevision({
    parent: sts,
    kind: KIND,
    apiVersion: API_VERSION,
    template: sts.spec.template,
    revision,
    collisionCount,
  });
}

export function createStatefulSetController(opts: StatefulSetControllerOptions): Controller {
  const { client } = opts;
  const { log, clock, events, expectations, ownedPods } = createPodOwnerParts(opts, 'statefulset-controller');
  const history = createControllerHistory({ client, kind: KIND, apiVersion: API_VERSION });
  const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`;

  function selects(sts: StatefulSet, pod: Pod): boolean {
    const sel = sts.spec.selector;
    return !!sel && !isEmptySelector(sel) && selectorMatches(sel, pod.metadata.labels ?? {});
  }

  const setsIn = (ns: string | undefined) => client.list<StatefulSet>(STATEFULSET_RESOURCE, { namespace: ns }).items;

  function podToKeys(event: ControllerEvent): string[] {
    const pod = event.object as Pod;
    const ref = controllerRef(pod);
    if (ref) {
      if (ref.kind !== KIND || groupOf(ref.apiVersion) !== 'apps') return [];
      return [observeOwnedPod(expectations, event, ref.name)];
    }
    if (event.type === 'DELETED' || pod.metadata.deletionTimestamp) return [];
    // An orphan named like a member: the set that selects it may adopt it.
    return setsIn(pod.metadata.namespace)
      .filter((sts) => ordinalOf(sts, pod.metadata.name) >= 0 && selects(sts, pod))
      .map(keyOf);
  }

  // A claim that went away may unblock a pod waiting for its stale claim to go.
  function claimToKeys(event: ControllerEvent): string[] {
    if (event.type !== 'DELETED') return [];
    const name = event.object.metadata.name ?? '';
    return setsIn(event.object.metadata.namespace)
      .filter((sts) =>
        (sts.spec.volumeClaimTemplates ?? []).some((t) => {
          const prefix = `${t.metadata?.name ?? ''}-${sts.metadata.name}-`;
          return name.startsWith(prefix) && /^[0-9]+$/.test(name.slice(prefix.length));
        }),
      )
      .map(keyOf);
  }

  async function ignoreGone<T>(write: Promise<T>): Promise<T | undefined> {
    try {
      return await write;
    } catch (err) {
      if (err instanceof NotFound) return undefined;
      throw err;
    }
  }

  /** The pods sts controls after adopting orphan members it selects and releasing pods that stopped matching. */
  async function claimPods(sts: StatefulSet, pods: readonly Pod[]): Promise<Pod[]> {
    const claimed: Pod[] = [];
    const uid = sts.metadata.uid ?? '';
    for (const pod of pods) {
      const ref = controllerRef(pod);
      if (ref) {
        if (ref.uid !== uid) continue; // someone else's: never taken
        if (selects(sts, pod)) claimed.push(pod);
        else if (await ignoreGone(client.update<Pod>('pods', withOwnerRefs(pod, withoutOwner(pod, uid))))) {
          log.info({ statefulset: keyOf(sts), pod: pod.metadata.name }, 'released pod that stopped matching');
        }
        continue;
      }
      if (pod.metadata.deletionTimestamp || ordinalOf(sts, pod.metadata.name) < 0 || !selects(sts, pod)) continue;
      const refs = [...(pod.metadata.ownerReferences ?? []), newControllerRef(sts, KIND, API_VERSION)];
      const adopted = await ignoreGone(client.update<Pod>('pods', withOwnerRefs(pod, refs)));
      if (adopted) {
        claimed.push(adopted);
        log.info({ statefulset: keyOf(sts), pod: pod.metadata.name }, 'adopted pod');
      }
    }
    return claimed;
  }

  const ownedBy = (sts: StatefulSet) =>
    client.list<Pod>('pods', { namespace: sts.metadata.namespace }).items.filter((p) => !!sts.metadata.uid && controllerRef(p)?.uid === sts.metadata.uid);

  const getClaim = (sts: StatefulSet, name: string) => client.get<PersistentVolumeClaim>(CLAIM_RESOURCE, sts.metadata.namespace ?? 'default', name);

  function claimsBlocked(sts: StatefulSet, ordinal: number): boolean {
    const podName = podNameFor(sts, ordinal);
    return claimNamesFor(sts, ordinal).some(({ claim }) => {
      const c = getClaim(sts, claim);
      return c !== undefined && claimIsStale(c, podName);
    });
  }

  /** Creates ordinal's missing claims, owned as the retention policy says; throws the first failure. */
  async function ensureClaims(sts: StatefulSet, ordinal: number, pod: Pod | undefined): Promise<void> {
    const podName = podNameFor(sts, ordinal);
    for (const claim of claimsFor(sts, ordinal)) {
      if (getClaim(sts, claim.metadata.name ?? '')) continue;
      const owned = withOwnerRefs(claim, claimOwnersFor(claim, sts, pod, ordinal));
      try {
        await client.create(CLAIM_RESOURCE, owned);
        await events.normal(sts, 'SuccessfulCreate', `create Claim ${claim.metadata.name} Pod ${podName} in StatefulSet ${sts.metadata.name} success`);
      } catch (err) {
        if (err instanceof AlreadyExists) continue;
        await events.warning(sts, 'FailedCreate', `create Claim ${claim.metadata.name} for Pod ${podName} in StatefulSet ${sts.metadata.name} failed error: ${message(err)}`);
        throw err;
      }
    }
  }

  /** Puts pod's identity labels (when in range) and its claims' owners right. */
  async function conform(sts: StatefulSet, pod: Pod, scaledDown: boolean): Promise<void> {
    const ordinal = ordinalOf(sts, pod.metadata.name);
    if (!scaledDown && !identityMatches(sts, pod)) await ignoreGone(client.update<Pod>('pods', withIdentity(sts, pod)));
    for (const { claim: name } of claimNamesFor(sts, ordinal)) {
      const claim = getClaim(sts, name);
      if (!claim || claimOwnersUpToDate(claim, sts, pod, ordinal)) continue;
      await ignoreGone(client.update(CLAIM_RESOURCE, withOwnerRefs(claim, claimOwnersFor(claim, sts, pod, ordinal))));
      log.info({ statefulset: keyOf(sts), claim: name }, 'set claim owners for the retention policy');
    }
  }

  interface Revisions {
    current: ControllerRevision;
    update: ControllerRevision;
    collisionCount: number;
    /** As listed before this pass's writes, sorted. */
    listed: ControllerRevision[];
  }

  async function revisionsOf(sts: StatefulSet): Promise<Revisions> {
    const listed = await history.list(sts, sts.spec.selector!);
    const build = (n: number, c: number) => statefulSetRevision(sts, n, c);
    const { update, collisionCount } = await syncUpdateRevision(history, sts, listed, build, sts.status?.collisionCount ?? 0);
    const current = listed.find((r) => r.metadata.name === sts.status?.currentRevision) ?? update;
    return { current, update, collisionCount, listed };
  }

  /** One pass of creates, fixes and deletes; the first error, if any. */
  async function manage(key: string, sts: StatefulSet, pods: Pod[], revs: Revisions): Promise<unknown> {
    const plan = planPass({ sts, pods, updateRevision: revs.update.metadata.name ?? '', now: clock(), claimsBlocked: (o) => claimsBlocked(sts, o) });
    if (plan.waitingOn) log.debug({ statefulset: key, ...plan.waitingOn }, 'waiting');
    let failure: unknown;
    const templates: Record<'current' | 'update', PodTemplate | undefined> = {
      current: templateOfRevision<PodTemplate>(revs.current) ?? sts.spec.template,
      update: templateOfRevision<PodTemplate>(revs.update) ?? sts.spec.template,
    };

    const creatable: Pod[] = [];
    for (const c of plan.create) {
      try {
        await ensureClaims(sts, c.ordinal, undefined);
        creatable.push(newStatefulSetPod(sts, templates[c.revision], c.ordinal, revs[c.revision].metadata.name ?? ''));
      } catch (err) {
        failure ??= err;
      }
    }
    if (creatable.length) {
      const { created, error } = await ownedPods.create(key, sts, creatable.length, (i) => creatable[i]!);
      if (created.length) log.info({ statefulset: key, pods: created.map((p) => p.metadata.name) }, 'created pods');
      failure ??= error;
    }
    for (const pod of plan.ensureClaims) {
      try {
        await ensureClaims(sts, ordinalOf(sts, pod.metadata.name), pod);
      } catch (err) {
        failure ??= err;
      }
    }
    let conformed = true;
    for (const { pod, scaledDown } of plan.conform) {
      try {
        await conform(sts, pod, scaledDown);
      } catch (err) {
        failure ??= err;
        if (scaledDown) conformed = false;
      }
    }
    // A scaled-down pod goes only once its claims point at it (whenScaled: Delete).
    const victims = plan.remove.filter((r) => conformed || r.why !== 'scale-down').map((r) => r.pod);
    if (victims.length) {
      const { failed, error } = await ownedPods.delete(key, sts, victims);
      log.info({ statefulset: key, pods: victims.filter((p) => !failed.has(p.metadata.uid ?? '')).map((p) => p.metadata.name) }, 'deleted pods');
      failure ??= error;
    }
    return failure;
  }

  async function pruneHistory(sts: StatefulSet, revs: Revisions, pods: readonly Pod[]): Promise<void> {
    const live = new Set([revs.current.metadata.name ?? '', revs.update.metadata.name ?? '', ...pods.map(revisionOf)]);
    for (const rev of revisionsToPrune(revs.listed, live, sts.spec.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY_LIMIT)) {
      await history.delete(rev);
      log.info({ statefulset: keyOf(sts), revision: rev.metadata.name }, 'pruned revision');
    }
  }

  async function reconcile(key: string): Promise<ReconcileResult | void> {
    const sts = getByKey<StatefulSet>(client, STATEFULSET_RESOURCE, key);
    if (!sts) {
      expectations.forget(key);
      return;
    }
    if (sts.metadata.deletionTimestamp) return;
    const sel = sts.spec.selector;
    // Validation refuses an empty selector; here it selects nothing rather than everything.
    if (!sel || isEmptySelector(sel)) return;
    const pods = await claimPods(sts, client.list<Pod>('pods', { namespace: sts.metadata.namespace }).items);
    const revs = await revisionsOf(sts);
    let failure: unknown;
    if (expectations.satisfied(key)) failure = await manage(key, sts, pods, revs);

    // Status and pruning over the pods after this pass's writes.
    const after = ownedBy(sts);
    const now = clock();
    try {
      await pruneHistory(sts, revs, after);
    } catch (err) {
      failure ??= err;
    }
    const status = statefulSetStatus(
      sts,
      after,
      { current: revs.current.metadata.name ?? '', update: revs.update.metadata.name ?? '', collisionCount: revs.collisionCount },
      now,
    );
    await writeStatusIfChanged(client, STATEFULSET_RESOURCE, sts, status);
    if (failure !== undefined) throw failure;
    return requeueWhenAvailable(after, sts.spec.minReadySeconds ?? 0, now);
  }

  return defineController({
    name: 'statefulset-controller',
    resyncMs: opts.resyncMs,
    watches: [
      ownerWatch(STATEFULSET_RESOURCE, expectations),
      { resource: 'pods', toKeys: podToKeys },
      { resource: CLAIM_RESOURCE, toKeys: claimToKeys },
    ],
    onStart: () => expectations.clear(),
    reconcile,
  });
}
