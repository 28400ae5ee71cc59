// Container resources: names, quantity syntax, non-negative, requests <= limits.
import type { StatusCause } from '../errors.ts';
import { child, invalid, key } from './field-errors.ts';
import { isQualifiedName } from './name-rules.ts';
import { compareExact, parseQuantityExact, QUANTITY_FORMAT_ERROR, type ExactQuantity } from './quantity.ts';

type QuantityMap = Record<string, string | number> | null | undefined;

const STANDARD = new Set(['cpu', 'memory', 'ephemeral-storage']);
const ZERO: ExactQuantity = { mantissa: 0n, exp10: 0 };

function checkName(name: string, path: string, causes: StatusCause[]): void {
  const msgs = isQualifiedName(name);
  if (msgs.length > 0) {
    for (const m of msgs) causes.push(invalid(path, name, m));
  } else if (!name.includes('/') && !STANDARD.has(name) && !name.startsWith('hugepages-')) {
    causes.push(invalid(path, name, 'must be a standard resource for containers'));
  }
}

function parseAll(list: QuantityMap, path: string, causes: StatusCause[]): Map<string, ExactQuantity> {
  const out = new Map<string, ExactQuantity>();
  for (const [name, v] of Object.entries(list ?? {})) {
    const p = key(path, name);
    checkName(name, p, causes);
    let q: ExactQuantity;
    try {
      q = parseQuantityExact(v);
    } catch {
      causes.push(invalid(p, v, QUANTITY_FORMAT_ERROR));
      continue;
    }
    if (compareExact(q, ZERO) < 0) {
      causes.push(invalid(p, v, 'must be greater than or equal to 0'));
      continue;
    }
    out.set(name, q);
  }
  return out;
}

export function validateResources(
  resources: { requests?: QuantityMap; limits?: QuantityMap } | null | undefined,
  path: string,
): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!resources) return causes;
  const limits = parseAll(resources.limits, child(path, 'limits'), causes);
  const requests = parseAll(resources.requests, child(path, 'requests'), causes);
  for (const [name, req] of requests) {
    const lim = limits.get(name);
    if (lim && compareExact(req, lim) > 0) {
      causes.push(
        invalid(key(child(path, 'requests'), name), String(resources.requests![name]), `must be less than or equal to ${name} limit of ${String(resources.limits![name])}`),
      );
    }
  }
  return causes;
}
