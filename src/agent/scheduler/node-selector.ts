// Node selector terms (nodeAffinity, preferred terms) compiled once per pod.
// Terms are ORed; inside a term every expression and field must hold; a term
// with nothing in it, or one that does not parse, matches no node (as
// component-helpers' nodeaffinity does).
import type { NodeSelectorRequirement, NodeSelectorTerm } from './scheduling-shapes.ts';

export type NodeMatcher = (labels: Readonly<Record<string, string>>, name: string) => boolean;

const INT = /^[+-]?\d+$/;

type Test = (value: string | undefined) => boolean;

function compileRequirement(r: NodeSelectorRequirement): Test | undefined {
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In': {
      if (values.length === 0) return undefined;
      const set = new Set(values);
      return (v) => v !== undefined && set.has(v);
    }
    case 'NotIn': {
      if (values.length === 0) return undefined;
      const set = new Set(values);
      return (v) => v === undefined || !set.has(v);
    }
    case 'Exists':
      return values.length ? undefined : (v) => v !== undefined;
    case 'DoesNotExist':
      return values.length ? undefined : (v) => v === undefined;
    case 'Gt':
    case 'Lt': {
      if (values.length !== 1 || !INT.test(values[0]!)) return undefined;
      const bound = Number(values[0]);
      const gt = r.operator === 'Gt';
      return (v) => v !== undefined && INT.test(v) && (gt ? Number(v) > bound : Number(v) < bound);
    }
    default:
      return undefined;
  }
}

/** One term; undefined when it can never match (empty or malformed). */
export function compileNodeSelectorTerm(term: NodeSelectorTerm | undefined): NodeMatcher | undefined {
  if (!term) return undefined;
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return undefined;
  const labelTests: [string, Test][] = [];
  const nameTests: Test[] = [];
  for (const e of exprs) {
    const t = compileRequirement(e);
    if (!t) return undefined;
    labelTests.push([e.key, t]);
  }
  for (const f of fields) {
    // metadata.name with In / NotIn is the only field selector Kubernetes accepts here.
    if (f.key !== 'metadata.name' || (f.operator !== 'In' && f.operator !== 'NotIn')) return undefined;
    const t = compileRequirement(f);
    if (!t) return undefined;
    nameTests.push(t);
  }
  return (labels, name) => {
    for (const [k, t] of labelTests) if (!t(labels[k])) return false;
    for (const t of nameTests) if (!t(name)) return false;
    return true;
  };
}

/** ORed terms; an empty or all-malformed list matches nothing. */
export function compileNodeSelectorTerms(terms: readonly NodeSelectorTerm[] | undefined): NodeMatcher {
  const compiled = (terms ?? []).map(compileNodeSelectorTerm).filter((m): m is NodeMatcher => m !== undefined);
  if (compiled.length === 0) return () => false;
  if (compiled.length === 1) return compiled[0]!;
  return (labels, name) => compiled.some((m) => m(labels, name));
}
