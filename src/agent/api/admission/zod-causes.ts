// Turns zod issues into StatusCauses. Type errors read like the API server's
// OpenAPI check: `spec.replicas: Invalid value: "three": spec.replicas in body
// must be of type integer`.
import type { z } from 'zod';
import type { StatusCause } from '../errors.ts';
import { typeInvalid } from './field-errors.ts';

export function pathToField(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else {
      const s = String(p);
      out += /^[A-Za-z_$][\w$]*$/.test(s) ? (out ? `.${s}` : s) : `[${s}]`;
    }
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

export function zodIssuesToCauses(root: unknown, issues: readonly z.core.$ZodIssue[]): StatusCause[] {
  const causes: StatusCause[] = [];
  const seen = new Set<string>();
  for (const issue of issues) {
    const field = pathToField(issue.path);
    if (seen.has(field)) continue;
    seen.add(field);
    const where = field || 'body';
    // Every schema carries its expected type name as its error text (schemas.ts).
    const expected = issue.code === 'invalid_type' || issue.code === 'invalid_union' || issue.code === 'too_big' || issue.code === 'too_small'
      ? issue.message
      : undefined;
    const detail = expected ? `${where} in body must be of type ${expected}` : `${where} in body is invalid: ${issue.message}`;
    causes.push(typeInvalid(field, valueAt(root, issue.path), detail));
  }
  return causes;
}
