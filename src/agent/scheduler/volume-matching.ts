// Which PersistentVolume may serve a claim, and on which nodes, after the PV
// controller's findMatchingVolume: a volume pre-bound to the claim wins; else
// the smallest Available volume of the claim's class that is big enough, has
// the access modes and volume mode asked for and matches the selector. Pure,
// so the scheduler's filter and the binder's static binding choose alike.
import { compareExact, parseQuantityExact, type ExactQuantity } from '../api/admission/quantity.ts';
import {
  claimRefMatches,
  effectiveClaimClass,
  volumeClass,
  type PersistentVolume,
  type PersistentVolumeClaim,
} from '../api/persistent-volume-types.ts';
import { compileLabelSelector } from './label-selector.ts';
import { compileNodeSelectorTerms, type NodeMatcher } from './node-selector.ts';

const ANY_NODE: NodeMatcher = () => true;

function quantity(v: string | number | undefined | null): ExactQuantity | undefined {
  if (v === undefined || v === null) return undefined;
  try {
    return parseQuantityExact(v);
  } catch {
    return undefined;
  }
}

export function claimRequest(pvc: PersistentVolumeClaim): ExactQuantity | undefined {
  return quantity(pvc.spec?.resources?.requests?.storage);
}

export function volumeCapacity(pv: PersistentVolume): ExactQuantity | undefined {
  return quantity(pv.spec?.capacity?.storage);
}

/** The nodes a volume can be used on: its required node affinity (any node without one). */
export function volumeNodeMatcher(pv: PersistentVolume): NodeMatcher {
  const required = pv.spec?.nodeAffinity?.required;
  if (!required) return ANY_NODE;
  return compileNodeSelectorTerms(required.nodeSelectorTerms);
}

function hasModes(pv: PersistentVolume, pvc: PersistentVolumeClaim): boolean {
  const have = pv.spec?.accessModes ?? [];
  return (pvc.spec?.accessModes ?? []).every((m) => have.includes(m));
}

/** Whether the volume could be bound to this claim, leaving the node aside. */
export function volumeSatisfiesClaim(pv: PersistentVolume, pvc: PersistentVolumeClaim): boolean {
  if (pv.metadata.deletionTimestamp) return false;
  const request = claimRequest(pvc);
  const capacity = volumeCapacity(pv);
  if (!request || !capacity || compareExact(capacity, request) < 0) return false;
  if ((pv.spec?.volumeMode ?? 'Filesystem') !== (pvc.spec?.volumeMode ?? 'Filesystem')) return false;
  // A volume pre-bound to this claim needs nothing else.
  if (claimRefMatches(pv, pvc)) return true;
  if (pv.spec?.claimRef) return false;
  const phase = pv.status?.phase;
  if (phase !== undefined && phase !== 'Available') return false;
  const sel = pvc.spec?.selector;
  if (sel && !compileLabelSelector(sel).matches(pv.metadata.labels ?? {})) return false;
  if (volumeClass(pv) !== effectiveClaimClass(pvc)) return false;
  return hasModes(pv, pvc);
}

/** The volumes a claim may bind to, best first: pre-bound ones, then by size (smallest), then by name. */
export function candidateVolumes(volumes: Iterable<PersistentVolume>, pvc: PersistentVolumeClaim): PersistentVolume[] {
  const out: { pv: PersistentVolume; pre: boolean; cap: ExactQuantity }[] = [];
  for (const pv of volumes) {
    if (!volumeSatisfiesClaim(pv, pvc)) continue;
    out.push({ pv, pre: claimRefMatches(pv, pvc), cap: volumeCapacity(pv)! });
  }
  out.sort((a, b) => {
    if (a.pre !== b.pre) return a.pre ? -1 : 1;
    const c = compareExact(a.cap, b.cap);
    if (c !== 0) return c;
    const an = a.pv.metadata.name ?? '';
    const bn = b.pv.metadata.name ?? '';
    return an < bn ? -1 : an > bn ? 1 : 0;
  });
  return out.map((x) => x.pv);
}

/** The first candidate usable on the node and not taken by another claim of the pod. */
export function pickVolume(
  candidates: readonly PersistentVolume[],
  allowed: (pv: PersistentVolume) => boolean,
  taken: ReadonlySet<string> = new Set(),
): PersistentVolume | undefined {
  return candidates.find((pv) => !taken.has(pv.metadata.name ?? '') && allowed(pv));
}

/** The claim names of a pod's persistentVolumeClaim volumes, each once, in order. */
export function podClaimNames(volumes: readonly { [source: string]: unknown }[] | undefined): string[] {
  const out: string[] = [];
  for (const v of volumes ?? []) {
    const src = v?.persistentVolumeClaim as { claimName?: unknown } | undefined;
    const name = src?.claimName;
    if (typeof name === 'string' && name && !out.includes(name)) out.push(name);
  }
  return out;
}
