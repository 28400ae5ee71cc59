// Columns and cells for every type other than pods, matching what
// `kubectl get` shows against a Kubernetes API server. Cells are always
// produced for every column (wide ones too); kubectl hides priority-1
// columns unless asked for `-o wide`.

import { isIP } from 'node:net';
import { humanDuration, timestampAge } from '../format-duration.ts';
import type { KubeObject } from '../object-types.ts';
import { labelSelectorFromObject, type LabelSelectorObject } from '../selectors.ts';
import { AGE_COLUMN, NAME_COLUMN, column, type Printer, type TableColumnDefinition } from './types.ts';
import { hpaPrinter } from './hpa-printer.ts';

// Loose views of the fields printed; stored objects may lack any of them.
type Any = Record<string, any>;

function name(o: KubeObject): string {
  return o.metadata.name ?? '';
}
function age(o: KubeObject, now: Date): string {
  return timestampAge(o.metadata.creationTimestamp, now);
}
function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
function field(o: KubeObject, key: string): Any {
  const v = o[key];
  return typeof v === 'object' && v !== null ? (v as Any) : {};
}

/** `a=b,c=d`, keys sorted, `<none>` when empty: labels.FormatLabels. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  return keys.length === 0 ? '<none>' : keys.map((k) => `${k}=${labels![k]}`).join(',');
}

function formatSelectorObject(sel: LabelSelectorObject | undefined): string {
  try {
    const text = labelSelectorFromObject(sel).toString();
    return text === '' ? '<none>' : text;
  } catch {
    return '<invalid>';
  }
}

function podTemplateContainers(o: KubeObject): Any[] {
  const containers = field(o, 'spec').template?.spec?.containers;
  return Array.isArray(containers) ? containers : [];
}
function containerNames(o: KubeObject): string {
  return podTemplateContainers(o).map((c) => c.name ?? '').join(',');
}
function containerImages(o: KubeObject): string {
  return podTemplateContainers(o).map((c) => c.image ?? '').join(',');
}

const CONTAINERS_COLUMN = column('Containers', 'Names of each container in the template.', { priority: 1 });
const IMAGES_COLUMN = column('Images', 'Images referenced by each container in the template.', { priority: 1 });
const SELECTOR_COLUMN = column('Selector', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.', { priority: 1 });

/**
 * How kubectl prints a workload: Name, the kind's own columns, Age, then the
 * wide Containers, Images and Selector of its pod template. ownCells gets the
 * object's spec and status; templateOf gives the object that holds the
 * template and selector (a CronJob's job template; the object itself otherwise).
 */
function workloadPrinter(
  ownColumns: TableColumnDefinition[],
  ownCells: (spec: Any, status: Any, o: KubeObject, now: Date) => unknown[],
  templateOf: (o: KubeObject) => KubeObject = (o) => o,
): Printer {
  return {
    columns: [NAME_COLUMN, ...ownColumns, AGE_COLUMN, CONTAINERS_COLUMN, IMAGES_COLUMN, SELECTOR_COLUMN],
    cells: (o, now) => {
      const template = templateOf(o);
      return [
        name(o),
        ...ownCells(field(o, 'spec'), field(o, 'status'), o, now),
        age(o, now),
        containerNames(template),
        containerImages(template),
        formatSelectorObject(field(template, 'spec').selector),
      ];
    },
  };
}

function hostPort(ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** `10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...`: at most three ready addresses. */
export function formatEndpoints(subsets: Any[] | undefined): string {
  if (!subsets || subsets.length === 0) return '<none>';
  const max = 3;
  const list: string[] = [];
  let count = 0;
  for (const ss of subsets) {
    const addresses: Any[] = Array.isArray(ss.addresses) ? ss.addresses : [];
    const ports: Any[] = Array.isArray(ss.ports) ? ss.ports : [];
    if (ports.length === 0) {
      count += addresses.length;
      for (const a of addresses) if (list.length < max) list.push(String(a.ip));
      continue;
    }
    for (const p of ports) {
      count += addresses.length;
      for (const a of addresses) if (list.length < max) list.push(hostPort(String(a.ip), num(p.port)));
    }
  }
  const text = list.join(',');
  if (count > max) return `${text} + ${count - max} more...`;
  return text === '' ? '<none>' : text;
}

/** `80/TCP,443:30443/TCP`. */
export function formatServicePorts(ports: Any[] | undefined): string {
  const parts = (ports ?? []).map((p) => {
    const protocol = p.protocol ?? 'TCP';
    return p.nodePort ? `${p.port}:${p.nodePort}/${protocol}` : `${p.port}/${protocol}`;
  });
  return parts.length === 0 ? '<none>' : parts.join(',');
}

function serviceExternalIP(svc: KubeObject): string {
  const spec = field(svc, 'spec');
  const externalIPs: string[] = Array.isArray(spec.externalIPs) ? spec.externalIPs : [];
  switch (spec.type ?? 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length > 0 ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      const ingress: Any[] = field(svc, 'status').loadBalancer?.ingress ?? [];
      const all = [...externalIPs, ...ingress.map((i) => i.ip || i.hostname).filter(Boolean)];
      return all.length > 0 ? all.join(',') : '<pending>';
    }
    case 'ExternalName':
      return spec.externalName ?? '<none>';
    default:
      return '<unknown>';
  }
}

function nodeStatus(node: KubeObject): string {
  const conditions: Any[] = field(node, 'status').conditions ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  const parts = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  if (field(node, 'spec').unschedulable) parts.push('SchedulingDisabled');
  return parts.join(',');
}

const ROLE_PREFIX = 'node-role.kubernetes.io/';

export function nodeRoles(labels: Record<string, string> | undefined): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (k.startsWith(ROLE_PREFIX) && k.length > ROLE_PREFIX.length) roles.add(k.slice(ROLE_PREFIX.length));
    else if (k === 'kubernetes.io/role' && v !== '') roles.add(v);
  }
  return roles.size === 0 ? '<none>' : [...roles].sort().join(',');
}

function nodeAddress(node: KubeObject, type: string): string {
  const addresses: Any[] = field(node, 'status').addresses ?? [];
  return addresses.find((a) => a.type === type)?.address ?? '<none>';
}

function nodeInfo(node: KubeObject, key: string): string {
  return field(node, 'status').nodeInfo?.[key] || '<unknown>';
}

function eventObject(ev: KubeObject): string {
  const io = field(ev, 'involvedObject');
  const kind = String(io.kind ?? '').toLowerCase();
  return io.name ? `${kind}/${io.name}` : kind;
}

function eventSource(ev: KubeObject): string {
  const src = field(ev, 'source');
  const component = src.component || ev.reportingComponent || '';
  const host = src.host || ev.reportingInstance || '';
  if (!component && !host) return '<none>';
  return host ? `${component}, ${host}` : String(component);
}

function eventTimes(ev: KubeObject, now: Date): { first: string; last: string; count: number } {
  const first = ev.firstTimestamp ? timestampAge(ev.firstTimestamp as string, now) : timestampAge(ev.eventTime as string | undefined, now);
  let last = ev.lastTimestamp ? timestampAge(ev.lastTimestamp as string, now) : first;
  let count = num(ev.count);
  const series = field(ev, 'series');
  if (ev.series) {
    last = timestampAge(series.lastObservedTime, now);
    count = num(series.count);
  } else if (count === 0) {
    count = 1;
  }
  return { first, last, count };
}

const namespacePrinter: Printer = {
  columns: [NAME_COLUMN, column('Status', 'The status of the namespace'), AGE_COLUMN],
  cells: (o, now) => [name(o), field(o, 'status').phase ?? '', age(o, now)],
};

const nodePrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Status', 'The status of the node'),
    column('Roles', 'The roles of the node'),
    AGE_COLUMN,
    column('Version', 'Kubelet Version reported by the node.'),
    column('Internal-IP', 'List of addresses reachable to the node.', { priority: 1 }),
    column('External-IP', 'List of addresses reachable to the node.', { priority: 1 }),
    column('OS-Image', 'OS Image reported by the node from /etc/os-release.', { priority: 1 }),
    column('Kernel-Version', 'Kernel Version reported by the node.', { priority: 1 }),
    column('Container-Runtime', 'ContainerRuntime Version reported by the node.', { priority: 1 }),
  ],
  cells: (o, now) => [
    name(o),
    nodeStatus(o),
    nodeRoles(o.metadata.labels),
    age(o, now),
    field(o, 'status').nodeInfo?.kubeletVersion ?? '',
    nodeAddress(o, 'InternalIP'),
    nodeAddress(o, 'ExternalIP'),
    nodeInfo(o, 'osImage'),
    nodeInfo(o, 'kernelVersion'),
    nodeInfo(o, 'containerRuntimeVersion'),
  ],
};

const servicePrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Type', 'The type of the service.'),
    column('Cluster-IP', 'The cluster IP of the service.'),
    column('External-IP', 'The external IP of the service.'),
    column('Port(s)', 'The ports of the service.'),
    AGE_COLUMN,
    column('Selector', 'Route service traffic to pods with label keys and values matching this selector.', { priority: 1 }),
  ],
  cells: (o, now) => {
    const spec = field(o, 'spec');
    const clusterIP = (Array.isArray(spec.clusterIPs) && spec.clusterIPs[0]) || spec.clusterIP || '<none>';
    return [
      name(o),
      spec.type ?? 'ClusterIP',
      clusterIP,
      serviceExternalIP(o),
      formatServicePorts(spec.ports),
      age(o, now),
      formatLabels(spec.selector),
    ];
  },
};

const configMapPrinter: Printer = {
  columns: [NAME_COLUMN, column('Data', 'Number of data entries in the config map.', { type: 'integer' }), AGE_COLUMN],
  cells: (o, now) => [name(o), Object.keys(field(o, 'data')).length + Object.keys(field(o, 'binaryData')).length, age(o, now)],
};

const secretPrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Type', 'The type of the secret'),
    column('Data', 'The number of entries in the secret', { type: 'integer' }),
    AGE_COLUMN,
  ],
  cells: (o, now) => [name(o), (o.type as string | undefined) ?? 'Opaque', Object.keys(field(o, 'data')).length, age(o, now)],
};

const eventPrinter: Printer = {
  columns: [
    column('Last Seen', 'Time when this event was last observed.'),
    column('Type', 'Type of this event (Normal, Warning), new types could be added in the future.'),
    column('Reason', 'The reason for the transition into the object\'s current status.'),
    column('Object', 'The object that this event is about.'),
    column('Subobject', 'The subcomponent of the object that this event is about.', { priority: 1 }),
    column('Source', 'The component reporting this event.', { priority: 1 }),
    column('Message', 'A human-readable description of the status of this operation.'),
    column('First Seen', 'The time at which the event was first recorded.', { priority: 1 }),
    column('Count', 'The number of times this event has occurred.', { type: 'integer', priority: 1 }),
    column('Name', 'Name of the event.', { format: 'name', priority: 1 }),
  ],
  cells: (o, now) => {
    const t = eventTimes(o, now);
    return [
      t.last,
      o.type ?? '',
      o.reason ?? '',
      eventObject(o),
      field(o, 'involvedObject').fieldPath ?? '',
      eventSource(o),
      String(o.message ?? '').trim(),
      t.first,
      t.count,
      name(o),
    ];
  },
};

const endpointsPrinter: Printer = {
  columns: [NAME_COLUMN, column('Endpoints', 'Endpoints of the service.'), AGE_COLUMN],
  cells: (o, now) => [name(o), formatEndpoints(o.subsets as Any[] | undefined), age(o, now)],
};

/** At most three entries joined, then ` + N more...`; `<unset>` when empty (kubectl's listWithMoreString). */
function listWithMore(items: string[], max = 3): string {
  if (items.length === 0) return '<unset>';
  const text = items.slice(0, max).join(',');
  return items.length > max ? `${text} + ${items.length - max} more...` : text;
}

/** EndpointSlice ports: the number, else the name, else `*`. */
export function formatSlicePorts(ports: Any[] | undefined): string {
  return listWithMore((Array.isArray(ports) ? ports : []).map((p) => (typeof p.port === 'number' ? String(p.port) : p.name || '*')));
}

/** Every address of every endpoint in the slice. */
export function formatSliceEndpoints(endpoints: Any[] | undefined): string {
  return listWithMore((Array.isArray(endpoints) ? endpoints : []).flatMap((e) => (Array.isArray(e.addresses) ? e.addresses.map(String) : [])));
}

const endpointSlicePrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('AddressType', 'addressType specifies the type of address carried by this EndpointSlice: IPv4, IPv6 or FQDN.'),
    column('Ports', 'ports specifies the list of network ports exposed by each endpoint in this slice.'),
    column('Endpoints', 'endpoints is a list of unique endpoints in this slice.'),
    AGE_COLUMN,
  ],
  cells: (o, now) => [name(o), (o.addressType as string | undefined) ?? '', formatSlicePorts(o.ports as Any[] | undefined), formatSliceEndpoints(o.endpoints as Any[] | undefined), age(o, now)],
};

const deploymentPrinter = workloadPrinter(
  [
    column('Ready', 'Number of the pod with ready state'),
    column('Up-to-date', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', { type: 'integer' }),
    column('Available', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', { type: 'integer' }),
  ],
  (spec, status) => [`${num(status.readyReplicas)}/${num(spec.replicas)}`, num(status.updatedReplicas), num(status.availableReplicas)],
);

const replicaSetPrinter = workloadPrinter(
  [
    column('Desired', 'Number of desired pods.', { type: 'integer' }),
    column('Current', 'Number of actual running pods.', { type: 'integer' }),
    column('Ready', 'Number of ready pods.', { type: 'integer' }),
  ],
  (spec, status) => [num(spec.replicas), num(status.replicas), num(status.readyReplicas)],
);

const statefulSetPrinter: Printer = {
  columns: [NAME_COLUMN, column('Ready', 'Number of the pod with ready state'), AGE_COLUMN, CONTAINERS_COLUMN, IMAGES_COLUMN],
  cells: (o, now) => [
    name(o),
    `${num(field(o, 'status').readyReplicas)}/${num(field(o, 'spec').replicas)}`,
    age(o, now),
    containerNames(o),
    containerImages(o),
  ],
};

/** `<kind>.<group>/<name>` of the controller, as kubectl prints a ControllerRevision's. */
function controllerOf(o: KubeObject): string {
  const ref = o.metadata.ownerReferences?.find((r) => r.controller === true);
  if (!ref) return '<none>';
  const slash = ref.apiVersion.indexOf('/');
  const group = slash < 0 ? '' : ref.apiVersion.slice(0, slash);
  return `${(group ? `${ref.kind}.${group}` : ref.kind).toLowerCase()}/${ref.name}`;
}

const controllerRevisionPrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Controller', 'Controller of the object'),
    column('Revision', 'Revision indicates the revision of the state represented by Data.'),
    AGE_COLUMN,
  ],
  cells: (o, now) => [name(o), controllerOf(o), num(o.revision), age(o, now)],
};

const daemonSetPrinter = workloadPrinter(
  [
    column('Desired', 'The desired number of daemon pods.', { type: 'integer' }),
    column('Current', 'The number of daemon pods running on at least one node.', { type: 'integer' }),
    column('Ready', 'The number of daemon pods ready.', { type: 'integer' }),
    column('Up-to-date', 'The number of nodes running the updated daemon pod.', { type: 'integer' }),
    column('Available', 'The number of nodes running at least one available daemon pod.', { type: 'integer' }),
    column('Node Selector', 'NodeSelector is a selector which must be true for the pod to fit on a node.'),
  ],
  (spec, status) => [
    num(status.desiredNumberScheduled),
    num(status.currentNumberScheduled),
    num(status.numberReady),
    num(status.updatedNumberScheduled),
    num(status.numberAvailable),
    formatLabels(spec.template?.spec?.nodeSelector),
  ],
);

function jobStatus(o: KubeObject): string {
  const conditions: Any[] = Array.isArray(field(o, 'status').conditions) ? field(o, 'status').conditions : [];
  const has = (type: string) => conditions.some((c) => c?.type === type && c?.status === 'True');
  if (has('Complete')) return 'Complete';
  if (has('Failed')) return 'Failed';
  if (o.metadata.deletionTimestamp) return 'Terminating';
  if (has('SuccessCriteriaMet')) return 'SuccessCriteriaMet';
  if (has('FailureTarget')) return 'FailureTarget';
  if (has('Suspended')) return 'Suspended';
  return 'Running';
}

function jobCompletions(o: KubeObject): string {
  const spec = field(o, 'spec');
  const succeeded = num(field(o, 'status').succeeded);
  if (typeof spec.completions === 'number') return `${succeeded}/${spec.completions}`;
  const parallelism = num(spec.parallelism);
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

function jobDuration(o: KubeObject, now: Date): string {
  const status = field(o, 'status');
  const start = Date.parse(status.startTime ?? '');
  if (!Number.isFinite(start)) return '';
  const end = Date.parse(status.completionTime ?? '');
  return humanDuration((Number.isFinite(end) ? end : now.getTime()) - start);
}

const jobPrinter = workloadPrinter(
  [
    column('Status', 'Status of the job.'),
    column('Completions', 'The desired number of successfully finished pods the job should be run with.'),
    column('Duration', 'Time required to complete the job.'),
  ],
  (_spec, _status, o, now) => [jobStatus(o), jobCompletions(o), jobDuration(o, now)],
);

/** RWO,ROX,RWX,RWOP in that order, each once (kubectl's GetAccessModesAsString). */
export function formatAccessModes(modes: unknown): string {
  const list = Array.isArray(modes) ? modes : [];
  const short: [string, string][] = [
    ['ReadWriteOnce', 'RWO'],
    ['ReadOnlyMany', 'ROX'],
    ['ReadWriteMany', 'RWX'],
    ['ReadWriteOncePod', 'RWOP'],
  ];
  return short.filter(([m]) => list.includes(m)).map(([, s]) => s).join(',');
}

const BETA_STORAGE_CLASS = 'volume.beta.kubernetes.io/storage-class';

function storageClassOf(o: KubeObject): string {
  return o.metadata.annotations?.[BETA_STORAGE_CLASS] ?? field(o, 'spec').storageClassName ?? '';
}

function volumeAttributesClass(o: KubeObject): string {
  const v = field(o, 'spec').volumeAttributesClassName;
  return typeof v === 'string' ? v : '<unset>';
}

function storagePhase(o: KubeObject): string {
  return o.metadata.deletionTimestamp ? 'Terminating' : (field(o, 'status').phase ?? '');
}

function quantityText(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

const persistentVolumePrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Capacity', "capacity is the description of the persistent volume's resources and capacity."),
    column('Access Modes', 'accessModes contains all ways the volume can be mounted.'),
    column('Reclaim Policy', 'persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.'),
    column('Status', 'phase indicates if a volume is available, bound to a claim, or released by a claim.'),
    column('Claim', 'claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.'),
    column('StorageClass', 'StorageClass of the pv'),
    column('VolumeAttributesClass', 'VolumeAttributesClass of the pv'),
    column('Reason', 'reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.'),
    AGE_COLUMN,
    column('VolumeMode', 'volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.', { priority: 1 }),
  ],
  cells: (o, now) => {
    const spec = field(o, 'spec');
    const ref = spec.claimRef;
    return [
      name(o),
      quantityText(spec.capacity?.storage),
      formatAccessModes(spec.accessModes),
      spec.persistentVolumeReclaimPolicy ?? '',
      storagePhase(o),
      ref ? `${ref.namespace ?? ''}/${ref.name ?? ''}` : '',
      storageClassOf(o),
      volumeAttributesClass(o),
      field(o, 'status').reason ?? '',
      age(o, now),
      spec.volumeMode ?? '<unset>',
    ];
  },
};

const persistentVolumeClaimPrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Status', 'phase represents the current phase of PersistentVolumeClaim.'),
    column('Volume', 'volumeName is the binding reference to the PersistentVolume backing this claim.'),
    column('Capacity', 'capacity represents the actual resources of the underlying volume.'),
    column('Access Modes', 'accessModes contains the actual access modes the volume backing the PVC has.'),
    column('StorageClass', 'StorageClass of the pvc'),
    column('VolumeAttributesClass', 'VolumeAttributesClass of the pvc'),
    AGE_COLUMN,
    column('VolumeMode', 'volumeMode defines what type of volume is required by the claim.', { priority: 1 }),
  ],
  cells: (o, now) => {
    const spec = field(o, 'spec');
    const status = field(o, 'status');
    // Capacity and modes are the bound volume's, so they show only once bound.
    const bound = typeof spec.volumeName === 'string' && spec.volumeName !== '';
    return [
      name(o),
      storagePhase(o),
      spec.volumeName ?? '',
      bound ? quantityText(status.capacity?.storage) : '',
      bound ? formatAccessModes(status.accessModes) : '',
      storageClassOf(o),
      volumeAttributesClass(o),
      age(o, now),
      spec.volumeMode ?? '<unset>',
    ];
  },
};

/** The CronJob's job template, viewed as a workload so the container helpers apply. */
function jobTemplateOf(o: KubeObject): KubeObject {
  return { ...o, spec: field(o, 'spec').jobTemplate?.spec ?? {} };
}

const cronJobPrinter = workloadPrinter(
  [
    column('Schedule', 'The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.'),
    column('Timezone', 'The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.'),
    column('Suspend', 'This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.', { type: 'boolean' }),
    column('Active', 'A list of pointers to currently running jobs.', { type: 'integer' }),
    column('Last Schedule', 'Information when was the last time the job was successfully scheduled.'),
  ],
  (spec, status, _o, now) => [
    spec.schedule ?? '',
    typeof spec.timeZone === 'string' ? spec.timeZone : '<none>',
    typeof spec.suspend === 'boolean' ? (spec.suspend ? 'True' : 'False') : '<unset>',
    Array.isArray(status.active) ? status.active.length : 0,
    status.lastScheduleTime ? timestampAge(status.lastScheduleTime, now) : '<none>',
  ],
  jobTemplateOf,
);

export const defaultPrinter: Printer = {
  columns: [NAME_COLUMN, AGE_COLUMN],
  cells: (o, now) => [name(o), age(o, now)],
};

/** Printers by resource key (resources.ts `resourceKey`). */
export const PRINTERS: Readonly<Record<string, Printer>> = {
  namespaces: namespacePrinter,
  nodes: nodePrinter,
  services: servicePrinter,
  configmaps: configMapPrinter,
  secrets: secretPrinter,
  events: eventPrinter,
  endpoints: endpointsPrinter,
  'endpointslices.discovery.k8s.io': endpointSlicePrinter,
  'deployments.apps': deploymentPrinter,
  'replicasets.apps': replicaSetPrinter,
  'statefulsets.apps': statefulSetPrinter,
  'controllerrevisions.apps': controllerRevisionPrinter,
  'daemonsets.apps': daemonSetPrinter,
  'jobs.batch': jobPrinter,
  'horizontalpodautoscalers.autoscaling': hpaPrinter,
  'cronjobs.batch': cronJobPrinter,
  persistentvolumes: persistentVolumePrinter,
  persistentvolumeclaims: persistentVolumeClaimPrinter,
};
