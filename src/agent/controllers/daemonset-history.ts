// A DaemonSet's revision history, as Kubernetes' DaemonSet controller keeps it
// (constructHistory, snapshot, cleanupHistory):
// - ControllerRevisions <ds>-<hash>, controlled by the set, where the hash is
//   the pod template's (kube's ComputeHash of template and collisionCount),
//   also in the revision's controller-revision-hash label that the pods carry;
// - data: the strategic merge patch kubectl's rollout undo applies to the set,
//   {"spec":{"template":{...,"$patch":"replace"}}}; labels: the template's, so
//   the set's selector lists them (kubectl's rollout history lists by it);
//   annotations: the set's at the time (kubernetes.io/change-cause);
// - the revision whose data equals the template is the current one; a template
//   that returns to an older revision renumbers it as the newest; a name taken
//   by other data bumps status.collisionCount;
// - pruning keeps revisionHistoryLimit old revisions (counting the ones pods
//   still run, as kube does) and never deletes the current one or one in use.
import type { ObjectClient } from '../api/object-client.ts';
import type { Pod } from '../api/object-types.ts';
import {
  createControllerHistory,
  newControllerRevision,
  revisionsToPrune,
  syncUpdateRevision,
  DEFAULT_REVISION_HISTORY_LIMIT,
  type ControllerRevision,
} from './controller-revisions.ts';
import type { DaemonSet } from './daemonset-controller.ts';
import { CONTROLLER_REVISION_HASH } from './daemonset-placement.ts';
import { podTemplateHash } from './deployment-rollout.ts';

const KIND = 'DaemonSet';
const API_VERSION = 'apps/v1';

/** ds's revision of its current template, numbered revision, hashed with collisionCount (none: no collision yet). */
export function daemonSetRevision(ds: DaemonSet, revision: number, collisionCount: number | undefined): ControllerRevision {
  return newControllerRevision({
    parent: ds,
    kind: KIND,
    apiVersion: API_VERSION,
    template: ds.spec.template,
    revision,
    collisionCount: collisionCount ?? 0,
    hash: podTemplateHash(ds.spec.template, collisionCount),
    hashLabel: CONTROLLER_REVISION_HASH,
  });
}

/** The hash pods of rev carry (kube falls back to the revision's name for a revision without the label). */
export function revisionHash(rev: ControllerRevision): string {
  return rev.metadata.labels?.[CONTROLLER_REVISION_HASH] ?? rev.metadata.name ?? '';
}

/**
 * The revisions to delete (oldest first) so at most limit old ones remain:
 * every revision but current is old; ones whose hash a pod carries count
 * towards the limit but are never deleted (kube's cleanupHistory).
 */
export function daemonRevisionsToPrune(
  sorted: readonly ControllerRevision[],
  current: ControllerRevision,
  podHashes: ReadonlySet<string>,
  limit: number,
): ControllerRevision[] {
  const old = sorted.filter((r) => r.metadata.name !== current.metadata.name);
  const inUse = new Set(old.filter((r) => podHashes.has(revisionHash(r))).map((r) => r.metadata.name ?? ''));
  return revisionsToPrune(old, inUse, Math.max(0, limit - inUse.size));
}

export interface DaemonSetRevisions {
  /** The revision of ds's template (created or renumbered as needed). */
  current: ControllerRevision;
  /** The hash its pods carry. */
  hash: string;
  /** status.collisionCount after this sync (undefined while there never was a collision). */
  collisionCount: number | undefined;
  /** ds's revisions as listed before this sync's writes, sorted. */
  listed: ControllerRevision[];
}

export interface DaemonSetHistory {
  /** Adopts matching orphans, then finds or makes the current revision. */
  sync(ds: DaemonSet): Promise<DaemonSetRevisions>;
  /** Deletes the revisions beyond revisionHistoryLimit that no pod of pods runs; the ones deleted. */
  prune(ds: DaemonSet, revs: DaemonSetRevisions, pods: readonly Pod[]): Promise<ControllerRevision[]>;
}

export function createDaemonSetHistory(opts: { client: ObjectClient }): DaemonSetHistory {
  const history = createControllerHistory({ client: opts.client, kind: KIND, apiVersion: API_VERSION });
  return {
    async sync(ds) {
      const listed = await history.list(ds, ds.spec.selector ?? {});
      const stored = ds.status?.collisionCount;
      // kube's count is a pointer: nil hashes without it, the first collision makes it 1.
      const count = (c: number) => (c === 0 && stored === undefined ? undefined : c);
      const build = (n: number, c: number) => daemonSetRevision(ds, n, count(c));
      const { update, collisionCount } = await syncUpdateRevision(history, ds, listed, build, stored ?? 0);
      return { current: update, hash: revisionHash(update), collisionCount: count(collisionCount), listed };
    },

    async prune(ds, revs, pods) {
      const hashes = new Set(pods.map((p) => p.metadata.labels?.[CONTROLLER_REVISION_HASH] ?? '').filter((h) => h !== ''));
      const victims = daemonRevisionsToPrune(revs.listed, revs.current, hashes, ds.spec.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY_LIMIT);
      for (const rev of victims) await history.delete(rev);
      return victims;
    },
  };
}
