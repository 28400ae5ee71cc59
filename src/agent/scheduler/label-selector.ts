// metav1.LabelSelector compiled once per pod, keeping its requirements visible
// so the snapshot's label index can answer "pods matching this" without
// scanning every pod.
import type { LabelSelectorShape } from './scheduling-shapes.ts';

export type RequirementOp = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface Requirement {
  key: string;
  op: RequirementOp;
  values: ReadonlySet<string>;
}

export interface CompiledLabelSelector {
  readonly requirements: readonly Requirement[];
  /** Matches everything (`{}`). */
  readonly empty: boolean;
  /** Matches nothing (an absent selector, or one that doesn't parse). */
  readonly nothing: boolean;
  matches(labels: Readonly<Record<string, string>> | undefined): boolean;
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

function matchOne(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const v = labels[r.key];
  switch (r.op) {
    case 'In':
      return v !== undefined && r.values.has(v);
    case 'NotIn':
      return v === undefined || !r.values.has(v);
    case 'Exists':
      return v !== undefined;
    case 'DoesNotExist':
      return v === undefined;
  }
}

export const MATCH_NOTHING: CompiledLabelSelector = { requirements: [], empty: false, nothing: true, matches: () => false };

/** Requirements as matchLabels / matchExpressions give them; all must hold. */
export function selectorOf(requirements: readonly Requirement[]): CompiledLabelSelector {
  if (requirements.length === 0) return { requirements, empty: true, nothing: false, matches: () => true };
  return {
    requirements,
    empty: false,
    nothing: false,
    matches(labels) {
      const l = labels ?? NO_LABELS;
      for (const r of requirements) if (!matchOne(r, l)) return false;
      return true;
    },
  };
}

/**
 * Null or undefined selects nothing, `{}` everything (as LabelSelectorAsSelector).
 * A malformed selector selects nothing: admission does not check these
 * fields, and an unreadable rule must not place a pod where it was meant not to go.
 */
export function compileLabelSelector(sel: LabelSelectorShape | null | undefined): CompiledLabelSelector {
  if (sel === null || sel === undefined || typeof sel !== 'object') return MATCH_NOTHING;
  const reqs: Requirement[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key, op: 'In', values: new Set([String(value)]) });
  for (const e of sel.matchExpressions ?? []) {
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) return MATCH_NOTHING;
        reqs.push({ key: e.key, op: e.operator, values: new Set(values) });
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) return MATCH_NOTHING;
        reqs.push({ key: e.key, op: e.operator, values: new Set() });
        break;
      default:
        return MATCH_NOTHING;
    }
  }
  return selectorOf(reqs);
}
