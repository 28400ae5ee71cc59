// ControllerRevisions: the revision history of a workload's pod template, as
// Kubernetes' controller history package keeps it (pkg/controller/history).
// A revision is named <parent>-<hash>, where the hash (FNV-1, 32 bit, then the
// safe alphabet) covers the revision's data and the parent's collisionCount; a
// name taken by different data bumps collisionCount. Equal data means an equal
// revision, whatever the hash. The data is what kubectl's rollout history and
// undo read and patch back: {"spec":{"template":{...,"$patch":"replace"}}}.
// Used by the StatefulSet controller; the DaemonSet controller stores the same shape.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject } from '../api/object-types.ts';
import { AlreadyExists, NotFound } from '../api/errors.ts';
import { selectorMatches } from '../api/admission/label-selector.ts';
import type { LabelSelectorShape } from '../api/admission/schemas.ts';
import { jsonEqual } from '../store/json-equal.ts';
import { controllerRef, isControlledBy, newControllerRef, withOwnerRefs } from './owner-refs.ts';

export const CONTROLLER_REVISION_RESOURCE = 'controllerrevisions.apps';
/** The label holding a revision's hash (history.ControllerRevisionHashLabel). */
export const CONTROLLER_REVISION_HASH_LABEL = 'controller.kubernetes.io/hash';
// Names stay within 253 characters: 223 of prefix, a dash, and the hash.
const MAX_PREFIX = 223;
// More collisions than this in one go means something else is wrong.
const MAX_COLLISION_RETRIES = 100;
// rand.SafeEncodeString's alphabet: no vowels, so hashes never spell words.
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export interface ControllerRevision extends KubeObject {
  data?: unknown;
  revision: number;
}

/** A copy with object keys sorted at every level and null/undefined members left out (JSON null is "absent"). */
export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) {
      if (o[k] !== undefined && o[k] !== null) out[k] = canonical(o[k]);
    }
    return out;
  }
  return v;
}

/** FNV-1 (multiply, then xor), 32 bit, as Go's hash/fnv New32. */
function fnv1(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (const b of bytes) h = (Math.imul(h, 0x01000193) ^ b) >>> 0;
  return h;
}

/** HashControllerRevision: the data's JSON, then collisionCount in decimal, safe-encoded. */
export function hashRevisionData(data: unknown, collisionCount?: number): string {
  let h = fnv1(Buffer.from(JSON.stringify(canonical(data)) ?? '', 'utf8'));
  if (collisionCount !== undefined) h = fnv1(Buffer.from(String(collisionCount), 'utf8'), h);
  return [...String(h)].map((c) => SAFE_ALPHABET[c.charCodeAt(0) % SAFE_ALPHABET.length]).join('');
}

export function controllerRevisionName(prefix: string, hash: string): string {
  return `${prefix.slice(0, MAX_PREFIX)}-${hash}`;
}

/** The revision data of a pod template: a strategic merge patch that puts the template back whole. */
export function templatePatchData(template: unknown): unknown {
  const t = canonical(template ?? {}) as Record<string, unknown>;
  return canonical({ spec: { template: { ...t, $patch: 'replace' } } });
}

/** The pod template a revision restores (templatePatchData's inverse); undefined when it holds none. */
export function templateOfRevision<T>(rev: ControllerRevision | undefined): T | undefined {
  const t = (rev?.data as { spec?: { template?: Record<string, unknown> } } | undefined)?.spec?.template;
  if (!t || typeof t !== 'object') return undefined;
  const { $patch: _directive, ...template } = t;
  return structuredClone(template) as T;
}

export const DEFAULT_REVISION_HISTORY_LIMIT = 10;

export interface NewRevisionInput {
  parent: KubeObject;
  kind: string;
  apiVersion: string;
  /** The parent's pod template: the revision's data, and its labels, so the parent's selector lists the revision. */
  template: { metadata?: { labels?: Record<string, string> } } | undefined;
  revision: number;
  collisionCount: number;
  /** The revision's hash when not the data's (DaemonSets hash their pod template, as kube's ComputeHash). */
  hash?: string;
  /** The label carrying the hash; CONTROLLER_REVISION_HASH_LABEL by default (DaemonSets use controller-revision-hash). */
  hashLabel?: string;
}

/**
 * A new revision of parent's template (kube's newRevision): owned by parent as
 * controller, named and labelled by its hash, with the template's labels and the parent's annotations.
 */
export function newControllerRevision(input: NewRevisionInput): ControllerRevision {
  const data = canonical(templatePatchData(input.template));
  const hash = input.hash ?? hashRevisionData(data, input.collisionCount);
  const metadata: ControllerRevision['metadata'] = {
    name: controllerRevisionName(input.parent.metadata.name ?? '', hash),
    namespace: input.parent.metadata.namespace,
    labels: { ...(input.template?.metadata?.labels ?? {}), [input.hashLabel ?? CONTROLLER_REVISION_HASH_LABEL]: hash },
    ownerReferences: [newControllerRef(input.parent, input.kind, input.apiVersion)],
  };
  const annotations = input.parent.metadata.annotations;
  if (annotations && Object.keys(annotations).length) metadata.annotations = { ...annotations };
  return { apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata, data, revision: input.revision };
}

/** Same data: the same revision (the hash label is not compared, it may carry another collisionCount). */
export function equalRevision(a: ControllerRevision, b: ControllerRevision): boolean {
  return jsonEqual(canonical(a.data), canonical(b.data));
}

function createdMs(o: KubeObject): number {
  const t = Date.parse(o.metadata.creationTimestamp ?? '');
  return Number.isFinite(t) ? t : 0;
}

/** By revision number, then age, then name (history.SortControllerRevisions, made total). */
export function sortRevisions(revs: readonly ControllerRevision[]): ControllerRevision[] {
  return [...revs].sort(
    (a, b) => (a.revision ?? 0) - (b.revision ?? 0) || createdMs(a) - createdMs(b) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
  );
}

/** One more than the highest revision number (1 for none); revs sorted. */
export function nextRevision(sorted: readonly ControllerRevision[]): number {
  return sorted.length ? (sorted[sorted.length - 1]!.revision ?? 0) + 1 : 1;
}

/** The non-live revisions to delete so at most limit of them remain, oldest first; sorted input. */
export function revisionsToPrune(sorted: readonly ControllerRevision[], live: ReadonlySet<string>, limit: number): ControllerRevision[] {
  const historic = sorted.filter((r) => !live.has(r.metadata.name ?? ''));
  if (limit < 0 || historic.length <= limit) return [];
  return historic.slice(0, historic.length - limit);
}

export interface ControllerHistory {
  /** parent's revisions, sorted; orphans its selector matches are adopted first. */
  list(parent: KubeObject, selector: LabelSelectorShape): Promise<ControllerRevision[]>;
  /**
   * Creates the revision build(collisionCount) gives; a name already taken by
   * other data bumps collisionCount and tries again. Returns what is stored and the count used.
   */
  create(parent: KubeObject, build: (collisionCount: number) => ControllerRevision, collisionCount: number): Promise<{ revision: ControllerRevision; collisionCount: number }>;
  /** Gives an existing revision a new number (a rollback to it makes it the newest). */
  renumber(rev: ControllerRevision, revision: number): Promise<ControllerRevision>;
  delete(rev: ControllerRevision): Promise<void>;
}

export function createControllerHistory(opts: { client: ObjectClient; kind: string; apiVersion: string }): ControllerHistory {
  const { client } = opts;
  return {
    async list(parent, selector) {
      const uid = parent.metadata.uid;
      const out: ControllerRevision[] = [];
      for (const rev of client.list<ControllerRevision>(CONTROLLER_REVISION_RESOURCE, { namespace: parent.metadata.namespace }).items) {
        const ref = controllerRef(rev);
        if (ref) {
          if (uid && ref.uid === uid) out.push(rev);
          continue;
        }
        if (!selectorMatches(selector, rev.metadata.labels ?? {}) || rev.metadata.deletionTimestamp) continue;
        try {
          const refs = [...(rev.metadata.ownerReferences ?? []), newControllerRef(parent, opts.kind, opts.apiVersion)];
          out.push(await client.update<ControllerRevision>(CONTROLLER_REVISION_RESOURCE, withOwnerRefs(rev, refs)));
        } catch (err) {
          if (!(err instanceof NotFound)) throw err;
        }
      }
      return sortRevisions(out);
    },

    async create(parent, build, collisionCount) {
      let count = collisionCount;
      for (let attempt = 0; attempt <= MAX_COLLISION_RETRIES; attempt++, count++) {
        const candidate = build(count);
        try {
          return { revision: await client.create<ControllerRevision>(CONTROLLER_REVISION_RESOURCE, candidate), collisionCount: count };
        } catch (err) {
          if (!(err instanceof AlreadyExists)) throw err;
          const existing = client.get<ControllerRevision>(CONTROLLER_REVISION_RESOURCE, candidate.metadata.namespace ?? '', candidate.metadata.name ?? '');
          if (existing && isControlledBy(existing, parent) && equalRevision(existing, candidate)) return { revision: existing, collisionCount: count };
        }
      }
      throw new Error(`controller revision of ${parent.metadata.name}: ${MAX_COLLISION_RETRIES} hash collisions in a row`);
    },

    async renumber(rev, revision) {
      if (rev.revision === revision) return rev;
      return client.update<ControllerRevision>(CONTROLLER_REVISION_RESOURCE, { ...rev, revision });
    },

    async delete(rev) {
      try {
        await client.delete(CONTROLLER_REVISION_RESOURCE, rev.metadata.namespace ?? '', rev.metadata.name ?? '', { preconditions: { uid: rev.metadata.uid } });
      } catch (err) {
        if (!(err instanceof NotFound)) throw err;
      }
    },
  };
}

/**
 * The update revision for a parent whose template gives `candidate` (kube's
 * getStatefulSetRevisions): the newest revision when it is equal; an older
 * equal one renumbered as the newest (a rollback); else a new one.
 */
export async function syncUpdateRevision(
  history: ControllerHistory,
  parent: KubeObject,
  sorted: readonly ControllerRevision[],
  build: (revision: number, collisionCount: number) => ControllerRevision,
  collisionCount: number,
): Promise<{ update: ControllerRevision; collisionCount: number }> {
  const number = nextRevision(sorted);
  const candidate = build(number, collisionCount);
  const equal = sorted.filter((r) => equalRevision(r, candidate));
  const newest = sorted[sorted.length - 1];
  const lastEqual = equal[equal.length - 1];
  if (lastEqual && newest && lastEqual === newest) return { update: newest, collisionCount };
  if (lastEqual) return { update: await history.renumber(lastEqual, number), collisionCount };
  const created = await history.create(parent, (c) => build(number, c), collisionCount);
  return { update: created.revision, collisionCount: created.collisionCount };
}
