// Completion indexes of Indexed Jobs, as Kubernetes keeps them: each pod
// carries its index (annotation and label batch.kubernetes.io/job-completion-index),
// and the Job's status.completedIndexes lists the indexes that succeeded as
// ordered, compressed intervals ("0-2,4,6,7": a run of three or more is a range).
// Pure functions only.
import type { Pod } from '../api/object-types.ts';

export const COMPLETION_INDEX_KEY = 'batch.kubernetes.io/job-completion-index';
export const COMPLETION_INDEX_ENV = 'JOB_COMPLETION_INDEX';
/** Kubernetes' names.MaxGeneratedNameLength: room for the 5-character random suffix. */
const MAX_GENERATED_NAME_LENGTH = 58;

export interface Interval {
  first: number;
  last: number;
}

/** Disjoint, non-adjacent intervals in increasing order. */
export type Intervals = readonly Interval[];

/** The pod's completion index, or undefined when it has none (or a malformed one). */
export function completionIndexOf(pod: Pod): number | undefined {
  const v = pod.metadata.annotations?.[COMPLETION_INDEX_KEY];
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The index of pod when it is one of 0..completions-1, else undefined. */
export function validIndexOf(pod: Pod, completions: number): number | undefined {
  const ix = completionIndexOf(pod);
  return ix !== undefined && ix < completions ? ix : undefined;
}

/**
 * Parses status.completedIndexes, dropping what lies at or past completions
 * (a Job scaled down keeps only its lower indexes) and skipping corrupt parts.
 */
export function parseIntervals(text: string | undefined, completions: number): Interval[] {
  const out: Interval[] = [];
  if (!text) return out;
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const first = Number(m[1]);
    if (first >= completions) break;
    const last = Math.min(m[2] === undefined ? first : Number(m[2]), completions - 1);
    if (last < first) continue;
    const prev = out[out.length - 1];
    if (prev && first <= prev.last + 1) prev.last = Math.max(prev.last, last);
    else out.push({ first, last });
  }
  return out;
}

/** Kubernetes' text form: ranges of three or more as `a-b`, pairs as `a,b`. */
export function formatIntervals(intervals: Intervals): string {
  return intervals
    .map(({ first, last }) => (last === first ? `${first}` : last === first + 1 ? `${first},${last}` : `${first}-${last}`))
    .join(',');
}

/** The union of two interval lists. */
export function mergeIntervals(a: Intervals, b: Intervals): Interval[] {
  const all = [...a, ...b].sort((x, y) => x.first - y.first);
  const out: Interval[] = [];
  for (const iv of all) {
    const prev = out[out.length - 1];
    if (prev && iv.first <= prev.last + 1) prev.last = Math.max(prev.last, iv.last);
    else out.push({ ...iv });
  }
  return out;
}

/** intervals with these indexes added. */
export function withIndexes(intervals: Intervals, indexes: Iterable<number>): Interval[] {
  return mergeIntervals(
    intervals,
    [...indexes].map((i) => ({ first: i, last: i })),
  );
}

export function intervalsHave(intervals: Intervals, ix: number): boolean {
  return intervals.some((iv) => iv.first <= ix && ix <= iv.last);
}

export function intervalsTotal(intervals: Intervals): number {
  return intervals.reduce((n, iv) => n + iv.last - iv.first + 1, 0);
}

/** The first count indexes below completions that no interval of taken covers. */
export function firstPendingIndexes(taken: Intervals, count: number, completions: number): number[] {
  const out: number[] = [];
  let candidate = 0;
  for (const iv of taken) {
    for (; candidate < completions && out.length < count && candidate < iv.first; candidate++) out.push(candidate);
    candidate = Math.max(candidate, iv.last + 1);
  }
  for (; candidate < completions && out.length < count; candidate++) out.push(candidate);
  return out;
}

/** `<job>-<index>-`, the job name cut so that the generated name stays within kube's limit. */
export function indexedGenerateName(jobName: string, index: number): string {
  const tail = `-${index}-`;
  const prefix = jobName + tail;
  return prefix.length > MAX_GENERATED_NAME_LENGTH ? jobName.slice(0, MAX_GENERATED_NAME_LENGTH - tail.length) + tail : prefix;
}

/**
 * Active pods an Indexed Job must remove whatever its parallelism: those with
 * no valid index, and all but one of each index held twice (the one kept is
 * the one furthest along, by rank: rank puts the pods to delete first).
 */
export function duplicateIndexPods(active: readonly Pod[], completions: number, rank: (pods: readonly Pod[]) => Pod[]): { remove: Pod[]; keep: Pod[] } {
  const remove: Pod[] = [];
  const byIndex = new Map<number, Pod[]>();
  for (const p of active) {
    const ix = validIndexOf(p, completions);
    if (ix === undefined) remove.push(p);
    else byIndex.set(ix, [...(byIndex.get(ix) ?? []), p]);
  }
  const keep: Pod[] = [];
  for (const ix of [...byIndex.keys()].sort((a, b) => a - b)) {
    const pods = byIndex.get(ix)!;
    if (pods.length === 1) {
      keep.push(pods[0]!);
      continue;
    }
    const ranked = rank(pods);
    remove.push(...ranked.slice(0, -1));
    keep.push(ranked[ranked.length - 1]!);
  }
  return { remove, keep };
}
