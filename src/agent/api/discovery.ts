// The discovery documents kubectl and client-go read before anything else:
// /version, /api, /apis, and one APIResourceList per group version.
import { RESOURCE_TYPES, groupVersion, servedVersions, type ResourceType } from './resources.ts';

import { MESH_VERSION } from '../version.ts';
export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
  gitCommit: string;
  gitTreeState: string;
  buildDate: string;
  goVersion: string;
  compiler: string;
  platform: string;
}


export function versionInfo(): VersionInfo {
  return {
    major: MESH_VERSION.major,
    minor: MESH_VERSION.minor,
    gitVersion: MESH_VERSION.gitVersion,
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '1970-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'node',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

export function apiVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groups(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of RESOURCE_TYPES) {
    if (!t.group) continue;
    const versions = out.get(t.group) ?? [];
    for (const v of servedVersions(t)) if (!versions.includes(v)) versions.push(v);
    out.set(t.group, versions);
  }
  return out;
}

function apiGroup(name: string, versions: string[]) {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

/** `extra`: groups served outside RESOURCE_TYPES (metrics.k8s.io). */
export function apiGroupList(extra: { name: string; versions: string[] }[] = []) {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...[...groups()].map(([name, versions]) => apiGroup(name, versions)), ...extra.map((g) => apiGroup(g.name, g.versions))],
  };
}

/** The APIGroup document for `/apis/{group}`; undefined if the group is not served. */
export function apiGroupDoc(name: string) {
  const versions = groups().get(name);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(name, versions) } : undefined;
}

// `kubectl get all` expands the `all` category.
const IN_ALL = new Set(['pods', 'services', 'deployments', 'replicasets', 'statefulsets', 'daemonsets', 'horizontalpodautoscalers', 'cronjobs', 'jobs']);

function subresourceEntry(t: ResourceType, sub: string) {
  const base = { name: `${t.plural}/${sub}`, singularName: '', namespaced: t.namespaced };
  switch (sub) {
    case 'status':
      return { ...base, kind: t.kind, verbs: ['get', 'patch', 'update'] };
    case 'log':
      return { ...base, kind: 'Pod', verbs: ['get'] };
    case 'binding':
      return { ...base, kind: 'Binding', verbs: ['create'] };
    case 'scale':
      return { ...base, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] };
    default:
      return { ...base, kind: t.kind, verbs: ['get'] };
  }
}

/** The APIResourceList for one group version; undefined if it is not served. */
export function apiResourceList(group: string, version: string) {
  const types = RESOURCE_TYPES.filter((t) => t.group === group && servedVersions(t).includes(version));
  if (types.length === 0) return undefined;
  const resources: object[] = [];
  for (const t of types) {
    resources.push({
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: t.verbs,
      ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
      ...(IN_ALL.has(t.plural) ? { categories: ['all'] } : {}),
    });
    for (const sub of t.subresources) resources.push(subresourceEntry(t, sub));
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion({ group, version }), resources };
}
