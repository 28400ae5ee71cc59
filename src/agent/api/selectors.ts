// Label and field selectors, as list and watch requests carry them
// (`?labelSelector=app=web,tier!=db&fieldSelector=spec.nodeName=n1`) and as
// workload objects embed them (metav1.LabelSelector). Syntax and validation
// follow Kubernetes, so a selector that kubectl accepts means the same here.

import { BadRequest } from './errors.ts';
import type { KubeObject } from './object-types.ts';

// ---------------------------------------------------------------- labels

export interface LabelSelector {
  matches(labels: Record<string, string> | undefined): boolean;
  /** True when the selector has no requirements (it matches every object). */
  empty: boolean;
  /** Canonical text form (`app=web,tier in (a,b)`), requirements sorted by key. */
  toString(): string;
}

export type LabelOperator = '=' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

const NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why a label key is invalid, or undefined when it is valid (a qualified name). */
export function labelKeyError(key: string): string | undefined {
  const parts = key.split('/');
  let name = key;
  if (parts.length > 2) return 'a qualified name must have at most one "/"';
  if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) return 'prefix part must be non-empty';
    if (prefix.length > 253) return 'prefix part must be no more than 253 characters';
    if (!DNS_SUBDOMAIN_RE.test(prefix)) {
      return "prefix part must be a lowercase DNS subdomain: lower case alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character";
    }
  }
  if (name.length === 0) return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!NAME_RE.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

/** Why a label value is invalid, or undefined when it is valid (empty is valid). */
export function labelValueError(value: string): string | undefined {
  if (value.length === 0) return undefined;
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!NAME_RE.test(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

function requirementError(detail: string): BadRequest {
  return new BadRequest(`unable to parse requirement: ${detail}`);
}

function checkKey(key: string): void {
  const why = labelKeyError(key);
  if (why) throw requirementError(`key ${JSON.stringify(key)}: Invalid value: ${why}`);
}

function checkValue(key: string, value: string): void {
  const why = labelValueError(value);
  if (why) throw requirementError(`values for key ${JSON.stringify(key)}: Invalid value: ${JSON.stringify(value)}: ${why}`);
}

function matchRequirement(r: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  switch (r.operator) {
    case '=':
    case 'in':
      return has && r.values.includes(value!);
    case '!=':
    case 'notin':
      return !has || !r.values.includes(value!);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has || !/^-?\d+$/.test(value!)) return false;
      const n = Number(value);
      const bound = Number(r.values[0]);
      return r.operator === 'gt' ? n > bound : n < bound;
    }
  }
}

function formatRequirement(r: LabelRequirement): string {
  switch (r.operator) {
    case '=':
    case '!=':
      return `${r.key}${r.operator}${r.values[0]}`;
    case 'in':
    case 'notin':
      return `${r.key} ${r.operator} (${[...r.values].sort().join(',')})`;
    case 'exists':
      return r.key;
    case '!':
      return `!${r.key}`;
    case 'gt':
      return `${r.key}>${r.values[0]}`;
    case 'lt':
      return `${r.key}<${r.values[0]}`;
  }
}

/** Builds a selector from requirements (all must hold). */
export function createLabelSelector(requirements: LabelRequirement[]): LabelSelector {
  const reqs = [...requirements].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const text = reqs.map(formatRequirement).join(',');
  return {
    empty: reqs.length === 0,
    matches: (labels) => reqs.every((r) => matchRequirement(r, labels ?? {})),
    toString: () => text,
  };
}

/** A selector that matches nothing: what Kubernetes makes of an absent (null) LabelSelector. */
function nothing(): LabelSelector {
  return { empty: false, matches: () => false, toString: () => '<none>' };
}

type TokenKind = 'ident' | 'in' | 'notin' | '(' | ')' | ',' | '=' | '==' | '!=' | '!' | '<' | '>' | 'end';

interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
}

const SPECIAL = new Set(['=', '!', '(', ')', ',', '<', '>']);

function tokenize(s: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = s.slice(i, i + 2);
    if (two === '==' || two === '!=') {
      tokens.push({ kind: two, text: two, pos: i });
      i += 2;
    } else if (SPECIAL.has(c)) {
      tokens.push({ kind: c as TokenKind, text: c, pos: i });
      i++;
    } else {
      let j = i;
      while (j < s.length && !/\s/.test(s[j]!) && !SPECIAL.has(s[j]!)) j++;
      const text = s.slice(i, j);
      tokens.push({ kind: text === 'in' ? 'in' : text === 'notin' ? 'notin' : 'ident', text, pos: i });
      i = j;
    }
  }
  tokens.push({ kind: 'end', text: 'end of string', pos: s.length });
  return tokens;
}

/**
 * Parses the string form: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
 * `a` (exists), `!a` (does not exist), `a>1`, `a<1`; commas join requirements.
 * An empty string selects everything. Bad syntax is a BadRequest naming the bad part.
 */
export function parseLabelSelector(s: string): LabelSelector {
  const tokens = tokenize(s);
  let at = 0;
  const peek = (): Token => tokens[at]!;
  const next = (): Token => tokens[at++]!;
  const found = (t: Token, expected: string): BadRequest =>
    requirementError(`found '${t.text}' at position ${t.pos} of ${JSON.stringify(s)}, expected: ${expected}`);

  const requirements: LabelRequirement[] = [];
  if (peek().kind === 'end') return createLabelSelector([]);

  for (;;) {
    const first = next();
    if (first.kind === '!') {
      const key = next();
      if (key.kind !== 'ident') throw found(key, 'identifier after \'!\'');
      checkKey(key.text);
      requirements.push({ key: key.text, operator: '!', values: [] });
    } else if (first.kind === 'ident') {
      const key = first.text;
      checkKey(key);
      const op = next();
      switch (op.kind) {
        case 'end':
        case ',':
          at--;
          requirements.push({ key, operator: 'exists', values: [] });
          break;
        case '=':
        case '==':
        case '!=': {
          // `a=` selects an empty value, as in Kubernetes.
          const v = peek().kind === 'ident' || peek().kind === 'in' || peek().kind === 'notin' ? next().text : '';
          checkValue(key, v);
          requirements.push({ key, operator: op.kind === '!=' ? '!=' : '=', values: [v] });
          break;
        }
        case '<':
        case '>': {
          const v = next();
          if (v.kind !== 'ident' || !/^-?\d+$/.test(v.text)) throw found(v, `an integer value for '${op.text}'`);
          requirements.push({ key, operator: op.kind === '>' ? 'gt' : 'lt', values: [v.text] });
          break;
        }
        case 'in':
        case 'notin': {
          const open = next();
          if (open.kind !== '(') throw found(open, `'(' after '${op.text}'`);
          const values: string[] = [];
          for (;;) {
            const t = peek();
            let value = '';
            if (t.kind === 'ident' || t.kind === 'in' || t.kind === 'notin') value = next().text;
            const sep = next();
            if (sep.kind !== ',' && sep.kind !== ')') throw found(sep, "',' or ')'");
            if (!(sep.kind === ')' && values.length === 0 && value === '' && t.kind === ')')) values.push(value);
            if (sep.kind === ')') break;
          }
          if (values.length === 0) throw requirementError(`for 'in', 'notin' operators, values set can't be empty (key ${JSON.stringify(key)})`);
          for (const v of values) checkValue(key, v);
          requirements.push({ key, operator: op.kind, values });
          break;
        }
        default:
          throw found(op, "'=', '==', '!=', 'in', 'notin', '<', '>', ',' or end of string");
      }
    } else {
      throw found(first, "'!' or a label key");
    }
    const sep = next();
    if (sep.kind === 'end') break;
    if (sep.kind !== ',') throw found(sep, "',' or end of string");
  }
  return createLabelSelector(requirements);
}

export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/**
 * Converts a metav1.LabelSelector (as in Deployment.spec.selector). An empty
 * object selects everything; null or undefined selects nothing.
 */
export function labelSelectorFromObject(sel: LabelSelectorObject | null | undefined): LabelSelector {
  if (sel === null || sel === undefined) return nothing();
  const requirements: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) {
    checkKey(key);
    checkValue(key, value);
    requirements.push({ key, operator: '=', values: [value] });
  }
  for (const expr of sel.matchExpressions ?? []) {
    checkKey(expr.key);
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) {
          throw requirementError(`for 'In', 'NotIn' operators, values set can't be empty (key ${JSON.stringify(expr.key)})`);
        }
        for (const v of values) checkValue(expr.key, v);
        requirements.push({ key: expr.key, operator: expr.operator === 'In' ? 'in' : 'notin', values: [...values] });
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) {
          throw requirementError(`values set must be empty for 'Exists', 'DoesNotExist' (key ${JSON.stringify(expr.key)})`);
        }
        requirements.push({ key: expr.key, operator: expr.operator === 'Exists' ? 'exists' : '!', values: [] });
        break;
      default:
        throw requirementError(`${JSON.stringify(expr.operator)} is not a valid label selector operator (key ${JSON.stringify(expr.key)})`);
    }
  }
  return createLabelSelector(requirements);
}

// ---------------------------------------------------------------- fields

export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  value: string;
}

export interface FieldSelector {
  matches(obj: KubeObject): boolean;
  empty: boolean;
  requirements: FieldRequirement[];
}

type FieldGetter = (obj: KubeObject) => string;

function path(...keys: string[]): FieldGetter {
  return (obj) => {
    let cur: unknown = obj;
    for (const k of keys) {
      if (typeof cur !== 'object' || cur === null) return '';
      cur = (cur as Record<string, unknown>)[k];
    }
    return cur === undefined || cur === null ? '' : String(cur);
  };
}

function flag(...keys: string[]): FieldGetter {
  const get = path(...keys);
  return (obj) => (get(obj) === 'true' ? 'true' : 'false');
}

const COMMON_FIELDS: Record<string, FieldGetter> = {
  'metadata.name': path('metadata', 'name'),
  'metadata.namespace': path('metadata', 'namespace'),
};

function podIP(obj: KubeObject): string {
  const status = obj.status as { podIP?: string; podIPs?: { ip: string }[] } | undefined;
  return status?.podIPs?.[0]?.ip ?? status?.podIP ?? '';
}

const FIELDS_BY_RESOURCE: Record<string, Record<string, FieldGetter>> = {
  pods: {
    'spec.nodeName': path('spec', 'nodeName'),
    'spec.restartPolicy': path('spec', 'restartPolicy'),
    'spec.schedulerName': path('spec', 'schedulerName'),
    'spec.serviceAccountName': path('spec', 'serviceAccountName'),
    'spec.hostNetwork': flag('spec', 'hostNetwork'),
    'status.phase': path('status', 'phase'),
    'status.podIP': podIP,
    'status.nominatedNodeName': path('status', 'nominatedNodeName'),
  },
  events: {
    'involvedObject.kind': path('involvedObject', 'kind'),
    'involvedObject.namespace': path('involvedObject', 'namespace'),
    'involvedObject.name': path('involvedObject', 'name'),
    'involvedObject.uid': path('involvedObject', 'uid'),
    'involvedObject.apiVersion': path('involvedObject', 'apiVersion'),
    'involvedObject.resourceVersion': path('involvedObject', 'resourceVersion'),
    'involvedObject.fieldPath': path('involvedObject', 'fieldPath'),
    reason: path('reason'),
    reportingComponent: path('reportingComponent'),
    source: path('source', 'component'),
    type: path('type'),
  },
  secrets: { type: path('type') },
  nodes: { 'spec.unschedulable': flag('spec', 'unschedulable') },
  namespaces: { 'status.phase': path('status', 'phase') },
  services: { 'spec.clusterIP': path('spec', 'clusterIP'), 'spec.type': path('spec', 'type') },
  'replicasets.apps': { 'status.replicas': (o) => path('status', 'replicas')(o) || '0' },
};

/** Splits on commas that are not escaped with a backslash. */
function splitTerms(s: string): string[] {
  const terms: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
    } else if (c === ',') {
      terms.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  terms.push(cur);
  return terms;
}

function unescapeValue(v: string, term: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') {
      const n = v[i + 1];
      if (n !== '\\' && n !== ',' && n !== '=') {
        throw new BadRequest(`invalid field selector: invalid escape sequence in ${JSON.stringify(term)}`);
      }
      out += n;
      i++;
    } else if (c === '=' || c === ',') {
      throw new BadRequest(`invalid field selector: unescaped '${c}' in value of ${JSON.stringify(term)}`);
    } else {
      out += c;
    }
  }
  return out;
}

function splitTerm(term: string): FieldRequirement {
  for (let i = 0; i < term.length; i++) {
    if (term[i] === '\\') {
      i++;
      continue;
    }
    for (const op of ['!=', '==', '='] as const) {
      if (term.startsWith(op, i)) {
        return { field: term.slice(0, i).trim(), operator: op === '!=' ? '!=' : '=', value: unescapeValue(term.slice(i + op.length), term) };
      }
    }
  }
  throw new BadRequest(`invalid selector: '${term}'; can't understand '${term}'`);
}

/**
 * Parses a field selector (`spec.nodeName=n1,status.phase!=Running`) for one
 * resource type. A field the type does not support is a BadRequest
 * `field label not supported: X`, as Kubernetes answers.
 */
export function parseFieldSelector(s: string, resourceKey: string): FieldSelector {
  const requirements: FieldRequirement[] = [];
  if (s.trim() !== '') {
    for (const term of splitTerms(s)) requirements.push(splitTerm(term));
  }
  const specific = FIELDS_BY_RESOURCE[resourceKey] ?? {};
  const checks = requirements.map((r) => {
    const get = COMMON_FIELDS[r.field] ?? specific[r.field];
    if (!get) throw new BadRequest(`field label not supported: ${r.field}`);
    return { get, r };
  });
  return {
    empty: requirements.length === 0,
    requirements,
    matches: (obj) => checks.every(({ get, r }) => (get(obj) === r.value) === (r.operator === '=')),
  };
}

/** The value a selector pins a field to with `field=value`, if it does (e.g. the node name a kubelet watches). */
export function exactFieldValue(selector: FieldSelector, field: string): string | undefined {
  return selector.requirements.find((r) => r.field === field && r.operator === '=')?.value;
}
