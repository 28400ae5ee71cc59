// The resource types this agent serves. Discovery, routing, the store key space,
// validation and table printing all look a type up here, so adding a resource is
// one entry.

export interface ResourceType {
  /** API group; '' for core. */
  group: string;
  version: string;
  kind: string;
  listKind: string;
  /** Plural, lower-case: the URL segment (`pods`). */
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  verbs: string[];
  /** Subresources served, e.g. `status`, `log`, `binding`. */
  subresources: string[];
  /** True when spec changes bump metadata.generation (everything with a spec). */
  hasSpec: boolean;
  /**
   * Further versions served for the same objects, which are stored once as
   * `version` (the preferred one); version-conversion.ts converts on the way in and out.
   */
  alternateVersions?: string[];
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function type(t: Omit<ResourceType, 'listKind' | 'verbs' | 'singular'> & Partial<ResourceType>): ResourceType {
  return { listKind: `${t.kind}List`, verbs: ALL_VERBS, singular: t.kind.toLowerCase(), ...t };
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  type({ group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false, shortNames: ['ns'], subresources: ['status'], hasSpec: true }),
  type({ group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true, shortNames: ['po'], subresources: ['status', 'log', 'binding'], hasSpec: true }),
  type({ group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true, shortNames: ['svc'], subresources: ['status'], hasSpec: true }),
  type({ group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true, shortNames: ['cm'], subresources: [], hasSpec: false }),
  type({ group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true, shortNames: [], subresources: [], hasSpec: false }),
  type({ group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false, shortNames: ['no'], subresources: ['status'], hasSpec: true }),
  type({ group: '', version: 'v1', kind: 'Event', plural: 'events', namespaced: true, shortNames: ['ev'], subresources: [], hasSpec: false }),
  type({ group: '', version: 'v1', kind: 'Endpoints', listKind: 'EndpointsList', plural: 'endpoints', singular: 'endpoints', namespaced: true, shortNames: ['ep'], subresources: [], hasSpec: false }),
  type({ group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true, shortNames: ['deploy'], subresources: ['status', 'scale'], hasSpec: true }),
  type({ group: 'apps', version: 'v1', kind: 'ReplicaSet', plural: 'replicasets', namespaced: true, shortNames: ['rs'], subresources: ['status', 'scale'], hasSpec: true }),
  type({ group: 'apps', version: 'v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true, shortNames: ['sts'], subresources: ['status', 'scale'], hasSpec: true }),
  type({ group: 'apps', version: 'v1', kind: 'DaemonSet', plural: 'daemonsets', namespaced: true, shortNames: ['ds'], subresources: ['status'], hasSpec: true }),
  type({ group: 'batch', version: 'v1', kind: 'Job', plural: 'jobs', namespaced: true, shortNames: [], subresources: ['status'], hasSpec: true }),
  type({ group: '', version: 'v1', kind: 'PersistentVolume', plural: 'persistentvolumes', namespaced: false, shortNames: ['pv'], subresources: ['status'], hasSpec: true }),
  type({ group: '', version: 'v1', kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims', namespaced: true, shortNames: ['pvc'], subresources: ['status'], hasSpec: true }),
  type({ group: 'apps', version: 'v1', kind: 'ControllerRevision', plural: 'controllerrevisions', namespaced: true, shortNames: [], subresources: [], hasSpec: false }),
  type({ group: 'batch', version: 'v1', kind: 'CronJob', plural: 'cronjobs', namespaced: true, shortNames: ['cj'], subresources: ['status'], hasSpec: true }),
  type({ group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers', namespaced: true, shortNames: ['hpa'], subresources: ['status'], hasSpec: true, alternateVersions: ['v1'] }),
  type({ group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true, shortNames: [], subresources: [], hasSpec: false }),
];

/** `pods`, `deployments.apps`: the key a type is stored and addressed under. */
export function resourceKey(t: Pick<ResourceType, 'plural' | 'group'>): string {
  return t.group ? `${t.plural}.${t.group}` : t.plural;
}

export function groupVersion(t: Pick<ResourceType, 'group' | 'version'>): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

/** Also finds a type by one of its alternateVersions (the path's version is then not `t.version`). */
export function findByPath(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.group === group && (t.version === version || !!t.alternateVersions?.includes(version)) && t.plural === plural);
}

/** The versions a type is served under, the stored (preferred) one first. */
export function servedVersions(t: Pick<ResourceType, 'version' | 'alternateVersions'>): string[] {
  return [t.version, ...(t.alternateVersions ?? [])];
}

export function findByKey(key: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => resourceKey(t) === key);
}

/** Looks a type up by apiVersion + kind, as a manifest names it. */
export function findByKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => groupVersion(t) === apiVersion && t.kind === kind);
}

/**
 * Resolves what a user typed on the command line (`po`, `pod`, `pods`,
 * `deploy`, `deployments.apps`) to a type.
 */
export function findByUserName(name: string): ResourceType | undefined {
  const n = name.toLowerCase();
  return RESOURCE_TYPES.find(
    (t) =>
      t.plural === n || t.singular === n || t.kind.toLowerCase() === n || t.shortNames.includes(n) || resourceKey(t) === n,
  );
}
