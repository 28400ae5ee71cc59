// Content negotiation: whether the client asked for meta.k8s.io Table output.

export interface TableRequest {
  /** `meta.k8s.io/v1` or `meta.k8s.io/v1beta1`. */
  apiVersion: string;
  contentType: string;
}

/**
 * Walks the Accept list in order: a Table entry first means Table output; a plain
 * JSON (or wildcard) entry first means plain objects.
 */
export function wantsTable(accept: string | undefined): TableRequest | undefined {
  if (!accept) return undefined;
  for (const entry of accept.split(',')) {
    const [type, ...params] = entry.split(';').map((s) => s.trim());
    const p = new Map(params.map((kv) => kv.split('=', 2) as [string, string]));
    if (p.get('as') === 'Table' && p.get('g') === 'meta.k8s.io' && (p.get('v') === 'v1' || p.get('v') === 'v1beta1')) {
      return { apiVersion: `meta.k8s.io/${p.get('v')}`, contentType: `${type};as=Table;v=${p.get('v')};g=meta.k8s.io` };
    }
    if (p.has('as')) continue; // some other representation we don't serve
    if (type === 'application/json' || type === '*/*' || type === 'application/*') return undefined;
  }
  return undefined;
}
