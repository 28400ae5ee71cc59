// Deep equality that treats JSON null like an absent field, as Kubernetes'
// semantic equality does for optional fields.
import { isDeepStrictEqual } from 'node:util';

function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = normalize(x);
    return out;
  }
  return v;
}

export function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(normalize(a), normalize(b));
}
