// URL paths for resource types, and resolving what the user typed to a type.
import { findByUserName, groupVersion, type ResourceType } from '../agent/api/resources.ts';
import { CliError } from './cli-error.ts';

export function resolveType(userName: string): ResourceType {
  const t = findByUserName(userName);
  if (!t) throw new CliError(`the server doesn't have a resource type "${userName}"`);
  return t;
}

/** `/api/v1/namespaces/ns/pods/name/log`, `/apis/apps/v1/deployments` (namespace omitted = all namespaces). */
export function resourcePath(t: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  let p = t.group ? `/apis/${groupVersion(t)}` : `/api/${t.version}`;
  if (t.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${t.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

/** How kubectl names a type in `pod/x`, `deployment.apps/x` and `pod "x" deleted`. */
export function typePrefix(t: ResourceType): string {
  return t.group ? `${t.singular}.${t.group}` : t.singular;
}

/** Splits `get pod/a deploy/b` or `get pods a b` into (type, name) pairs. */
export function parseTargets(args: string[]): { type: ResourceType; names: string[] }[] {
  if (args.length === 0) throw new CliError('you must specify the type of resource to get, e.g. "mesh get pods"');
  if (args[0]!.includes('/')) {
    const out: { type: ResourceType; names: string[] }[] = [];
    for (const a of args) {
      const slash = a.indexOf('/');
      if (slash <= 0 || slash === a.length - 1) {
        throw new CliError(`there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (got "${a}")`);
      }
      const t = resolveType(a.slice(0, slash));
      const name = a.slice(slash + 1);
      const existing = out.find((o) => o.type === t);
      if (existing) existing.names.push(name);
      else out.push({ type: t, names: [name] });
    }
    return out;
  }
  const [first, ...names] = args;
  for (const n of names) if (n.includes('/')) throw new CliError(`arguments in resource/name form must have a single resource and name (got "${n}")`);
  return first!.split(',').filter((s) => s !== '').map((s) => ({ type: resolveType(s), names }));
}
