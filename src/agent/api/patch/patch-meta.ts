// Patch-strategy metadata for the built-in types Mesh serves: which lists merge
// (and by which key) under strategic merge patch. Kubernetes keeps this in Go
// struct tags (`patchStrategy`, `patchMergeKey`); here it is a small tree.
// Fields not described merge as maps when they are objects and are replaced
// whole when they are lists, which is Kubernetes' rule for untagged fields.

export interface FieldMeta {
  /** The list merges rather than being replaced. */
  merge?: boolean;
  /** Merge key for lists of objects; absent on a merging list of scalars (a set). */
  mergeKey?: string;
  /** Schema of the nested object, or of each list element. */
  schema?: PatchSchema;
}

export interface PatchSchema {
  fields: Record<string, FieldMeta>;
}

function obj(fields: Record<string, FieldMeta>): PatchSchema {
  return { fields };
}
function keyed(mergeKey: string, schema?: PatchSchema): FieldMeta {
  return { merge: true, mergeKey, schema };
}
function nested(schema: PatchSchema): FieldMeta {
  return { schema };
}
const SET: FieldMeta = { merge: true };

const CONDITIONS = keyed('type');

const OBJECT_META = obj({
  ownerReferences: keyed('uid'),
  finalizers: SET,
});

const CONTAINER = obj({
  ports: keyed('containerPort'),
  env: keyed('name'),
  volumeMounts: keyed('mountPath'),
  volumeDevices: keyed('devicePath'),
});

const POD_SPEC = obj({
  containers: keyed('name', CONTAINER),
  initContainers: keyed('name', CONTAINER),
  ephemeralContainers: keyed('name', CONTAINER),
  volumes: keyed('name'),
  imagePullSecrets: keyed('name'),
  hostAliases: keyed('ip'),
  topologySpreadConstraints: keyed('topologyKey'),
  resourceClaims: keyed('name'),
  schedulingGates: keyed('name'),
});

const POD_STATUS = obj({
  conditions: CONDITIONS,
  podIPs: keyed('ip'),
  hostIPs: keyed('ip'),
  resourceClaimStatuses: keyed('name'),
});

const POD_TEMPLATE = obj({ metadata: nested(OBJECT_META), spec: nested(POD_SPEC) });

const WORKLOAD_STATUS = obj({ conditions: CONDITIONS });

function workload(extraSpec: Record<string, FieldMeta> = {}): PatchSchema {
  return obj({
    metadata: nested(OBJECT_META),
    spec: nested(obj({ template: nested(POD_TEMPLATE), ...extraSpec })),
    status: nested(WORKLOAD_STATUS),
  });
}

const BY_KIND: Record<string, PatchSchema> = {
  'v1/Pod': obj({ metadata: nested(OBJECT_META), spec: nested(POD_SPEC), status: nested(POD_STATUS) }),
  'v1/Node': obj({
    metadata: nested(OBJECT_META),
    spec: nested(obj({ podCIDRs: SET })),
    status: nested(obj({ conditions: CONDITIONS, addresses: keyed('type') })),
  }),
  'v1/Service': obj({
    metadata: nested(OBJECT_META),
    spec: nested(obj({ ports: keyed('port') })),
    status: nested(obj({ conditions: CONDITIONS })),
  }),
  'v1/Namespace': obj({ metadata: nested(OBJECT_META), status: nested(obj({ conditions: CONDITIONS })) }),
  'apps/v1/Deployment': workload(),
  'apps/v1/ReplicaSet': workload(),
  'apps/v1/StatefulSet': workload(),
  'apps/v1/DaemonSet': workload(),
  'batch/v1/Job': workload(),
  // status.active is an atomic list in Kubernetes: replaced whole.
  'batch/v1/CronJob': obj({
    metadata: nested(OBJECT_META),
    spec: nested(obj({ jobTemplate: nested(obj({ metadata: nested(OBJECT_META), spec: nested(obj({ template: nested(POD_TEMPLATE) })) })) })),
  }),
};

const GENERIC = obj({ metadata: nested(OBJECT_META) });

/** Patch metadata for an object, by apiVersion and kind; unknown kinds get PatchSchema only. */
export function patchMetaFor(apiVersion: string | undefined, kind: string | undefined): PatchSchema {
  return BY_KIND[`${apiVersion ?? ''}/${kind ?? ''}`] ?? GENERIC;
}
