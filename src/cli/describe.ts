// `mesh describe` rendering: pure functions from objects (+ their Events) to
// text, laid out like kubectl describe (tab-aligned `Key:  value` lines).
import { stringify } from 'yaml';
import type { Container, ContainerState, ContainerStatus, EnvVar, KubeObject, Pod } from '../agent/api/object-types.ts';
import { timestampAge } from '../agent/api/format-duration.ts';
import { alignTabs } from './tab-align.ts';

export interface KubeEvent extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  source?: { component?: string; host?: string };
  reportingComponent?: string;
}

/** Collects `Key:\tvalue` lines at an indent level; aligned at the end. */
class Out {
  readonly lines: string[] = [];
  line(level: number, text: string): void {
    this.lines.push('  '.repeat(level) + text);
  }
  field(level: number, key: string, value: string | number | boolean | undefined | null): void {
    this.line(level, `${key}:\t${value === undefined || value === null || value === '' ? '<none>' : String(value)}`);
  }
  /** `Labels:  a=b` with further pairs on their own aligned lines. */
  map(level: number, key: string, m: Record<string, string> | undefined, sep = '='): void {
    const keys = Object.keys(m ?? {}).sort();
    if (keys.length === 0) return this.field(level, key, '<none>');
    keys.forEach((k, i) => this.line(level, `${i === 0 ? `${key}:` : ''}\t${k}${sep}${m![k]}`));
  }
  text(): string {
    return alignTabs(this.lines).join('\n') + '\n';
  }
}

/** `Mon, 02 Jan 2006 15:04:05 +0000`, as kubectl prints times. */
export function formatTime(ts: string | undefined | null): string {
  if (!ts) return '<unknown>';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  return d.toUTCString().replace('GMT', '+0000');
}

function stateName(s: ContainerState | Record<string, never> | undefined): string | undefined {
  if (!s) return undefined;
  if ('running' in s) return 'Running';
  if ('waiting' in s) return 'Waiting';
  if ('terminated' in s) return 'Terminated';
  return undefined;
}

function describeState(out: Out, level: number, label: string, s: ContainerState | Record<string, never> | undefined): void {
  const name = stateName(s);
  if (!s || !name) {
    if (label === 'State') out.field(level, label, 'Waiting');
    return;
  }
  out.field(level, label, name);
  if ('running' in s) out.field(level + 1, 'Started', formatTime(s.running.startedAt));
  else if ('waiting' in s) {
    if (s.waiting.reason) out.field(level + 1, 'Reason', s.waiting.reason);
    if (s.waiting.message) out.field(level + 1, 'Message', s.waiting.message);
  } else if ('terminated' in s) {
    const t = s.terminated;
    if (t.reason) out.field(level + 1, 'Reason', t.reason);
    if (t.message) out.field(level + 1, 'Message', t.message);
    out.field(level + 1, 'Exit Code', t.exitCode);
    if (t.signal) out.field(level + 1, 'Signal', t.signal);
    out.field(level + 1, 'Started', formatTime(t.startedAt));
    out.field(level + 1, 'Finished', formatTime(t.finishedAt));
  }
}

function envValue(e: EnvVar): string {
  if (e.value !== undefined) return e.value;
  const f = e.valueFrom;
  if (f?.fieldRef) return ` (${f.fieldRef.apiVersion ?? 'v1'}:${f.fieldRef.fieldPath})`;
  if (f?.configMapKeyRef) return `<set to the key '${f.configMapKeyRef.key}' of config map '${f.configMapKeyRef.name}'>\tOptional: ${f.configMapKeyRef.optional === true}`;
  if (f?.secretKeyRef) return `<set to the key '${f.secretKeyRef.key}' in secret '${f.secretKeyRef.name}'>\tOptional: ${f.secretKeyRef.optional === true}`;
  if (f?.resourceFieldRef) return `${f.resourceFieldRef.resource} (${f.resourceFieldRef.containerName ?? ''})`;
  return '';
}

function describeContainer(out: Out, c: Container, st: ContainerStatus | undefined): void {
  out.line(1, `${c.name}:`);
  if (st?.containerID) out.field(2, 'Container ID', st.containerID);
  out.field(2, 'Image', c.image);
  if (st) out.field(2, 'Image ID', st.imageID || '');
  const ports = c.ports ?? [];
  if (ports.length > 0) {
    out.field(2, ports.length > 1 ? 'Ports' : 'Port', ports.map((p) => `${p.containerPort}/${p.protocol ?? 'TCP'}`).join(', '));
    out.field(2, ports.length > 1 ? 'Host Ports' : 'Host Port', ports.map((p) => `${p.hostPort ?? 0}/${p.protocol ?? 'TCP'}`).join(', '));
  }
  if (c.command?.length) {
    out.line(2, 'Command:');
    for (const a of c.command) out.line(3, a);
  }
  if (c.args?.length) {
    out.line(2, 'Args:');
    for (const a of c.args) out.line(3, a);
  }
  describeState(out, 2, 'State', st?.state);
  if (st?.lastState && stateName(st.lastState)) describeState(out, 2, 'Last State', st.lastState);
  out.field(2, 'Ready', st ? (st.ready ? 'True' : 'False') : 'False');
  out.field(2, 'Restart Count', st?.restartCount ?? 0);
  for (const kind of ['limits', 'requests'] as const) {
    const r = c.resources?.[kind];
    if (r && Object.keys(r).length > 0) {
      out.line(2, `${kind[0]!.toUpperCase()}${kind.slice(1)}:`);
      for (const k of Object.keys(r).sort()) out.field(3, k, r[k]);
    }
  }
  if (c.envFrom?.length) {
    out.line(2, 'Environment Variables from:');
    for (const f of c.envFrom) {
      const ref = f.configMapRef ? { n: f.configMapRef.name, t: 'ConfigMap', o: f.configMapRef.optional } : { n: f.secretRef?.name ?? '', t: 'Secret', o: f.secretRef?.optional };
      out.line(3, `${ref.n}\t${ref.t}${f.prefix ? ` with prefix '${f.prefix}'` : ''}\tOptional: ${ref.o === true}`);
    }
  }
  if (!c.env?.length) out.field(2, 'Environment', '<none>');
  else {
    out.line(2, 'Environment:');
    for (const e of c.env) out.line(3, `${e.name}:\t${envValue(e)}`);
  }
  const mounts = c.volumeMounts ?? [];
  if (mounts.length === 0) out.field(2, 'Mounts', '<none>');
  else {
    out.line(2, 'Mounts:');
    for (const m of mounts) out.line(3, `${m.mountPath} from ${m.name} (${m.readOnly ? 'ro' : 'rw'}${m.subPath ? `,path="${m.subPath}"` : ''})`);
  }
}

/** The Age column of an Event: `5m`, or `3m (x4 over 10m)` for a repeated one. */
export function eventAge(e: KubeEvent, now: Date): string {
  const last = e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp;
  const first = e.firstTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp;
  const age = timestampAge(last, now);
  if ((e.count ?? 1) > 1) return `${age} (x${e.count} over ${timestampAge(first, now)})`;
  return age;
}

function eventTime(e: KubeEvent): number {
  const t = Date.parse(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? '');
  return Number.isNaN(t) ? 0 : t;
}

function describeEvents(out: Out, events: KubeEvent[] | undefined, now: Date): void {
  if (events === undefined) return;
  if (events.length === 0) {
    out.field(0, 'Events', '<none>');
    return;
  }
  out.line(0, 'Events:');
  out.line(1, 'Type\tReason\tAge\tFrom\tMessage');
  out.line(1, '----\t------\t----\t----\t-------');
  for (const e of [...events].sort((a, b) => eventTime(a) - eventTime(b))) {
    const from = e.source?.component ?? e.reportingComponent ?? '';
    const msg = (e.message ?? '').replace(/\s*\n\s*/g, ' ').trim();
    out.line(1, `${e.type ?? ''}\t${e.reason ?? ''}\t${eventAge(e, now)}\t${from}\t${msg}`);
  }
}

function describeMeta(out: Out, obj: KubeObject, namespaced: boolean): void {
  out.field(0, 'Name', obj.metadata.name);
  if (namespaced) out.field(0, 'Namespace', obj.metadata.namespace);
}

export function describePod(pod: Pod, events: KubeEvent[] | undefined, now: Date = new Date()): string {
  const out = new Out();
  const spec = pod.spec ?? { containers: [] };
  const status = pod.status ?? {};
  describeMeta(out, pod, true);
  if (spec.priority !== undefined) out.field(0, 'Priority', spec.priority);
  if (spec.serviceAccountName) out.field(0, 'Service Account', spec.serviceAccountName);
  out.field(0, 'Node', spec.nodeName ? `${spec.nodeName}${status.hostIP ? `/${status.hostIP}` : ''}` : '<none>');
  if (status.startTime) out.field(0, 'Start Time', formatTime(status.startTime));
  out.map(0, 'Labels', pod.metadata.labels);
  out.map(0, 'Annotations', pod.metadata.annotations, ': ');
  if (pod.metadata.deletionTimestamp) {
    out.field(0, 'Status', `Terminating (lasts ${timestampAge(pod.metadata.deletionTimestamp, now)})`);
    out.field(0, 'Termination Grace Period', `${pod.metadata.deletionGracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30}s`);
  } else {
    out.field(0, 'Status', status.phase ?? 'Pending');
  }
  if (status.reason) out.field(0, 'Reason', status.reason);
  if (status.message) out.field(0, 'Message', status.message);
  out.field(0, 'IP', status.podIP ?? '');
  const ips = status.podIPs ?? [];
  if (ips.length === 0) out.field(0, 'IPs', '<none>');
  else {
    out.line(0, 'IPs:');
    for (const ip of ips) out.field(1, 'IP', ip.ip);
  }
  const ownerRef = pod.metadata.ownerReferences?.find((o) => o.controller);
  if (ownerRef) out.field(0, 'Controlled By', `${ownerRef.kind}/${ownerRef.name}`);
  if (spec.initContainers?.length) {
    out.line(0, 'Init Containers:');
    for (const c of spec.initContainers) describeContainer(out, c, status.initContainerStatuses?.find((s) => s.name === c.name));
  }
  out.line(0, 'Containers:');
  for (const c of spec.containers ?? []) describeContainer(out, c, status.containerStatuses?.find((s) => s.name === c.name));
  const conds = status.conditions ?? [];
  if (conds.length > 0) {
    out.line(0, 'Conditions:');
    out.line(1, 'Type\tStatus');
    for (const c of conds) out.line(1, `${c.type}\t${c.status}`);
  }
  const volumes = spec.volumes ?? [];
  if (volumes.length === 0) out.field(0, 'Volumes', '<none>');
  else {
    out.line(0, 'Volumes:');
    for (const v of volumes) {
      out.line(1, `${v.name}:`);
      for (const [k, val] of Object.entries(v)) {
        if (k === 'name') continue;
        out.field(2, 'Type', k);
        if (val && typeof val === 'object') for (const [kk, vv] of Object.entries(val)) out.field(2, kk, typeof vv === 'object' ? JSON.stringify(vv) : (vv as string));
      }
    }
  }
  if (status.qosClass) out.field(0, 'QoS Class', status.qosClass);
  out.map(0, 'Node-Selectors', spec.nodeSelector);
  describeEvents(out, events, now);
  return out.text();
}

const HIDDEN_META = new Set(['name', 'namespace', 'labels', 'annotations', 'managedFields']);

/** Any other type: metadata as fields, the rest as indented YAML, then Events. */
export function describeGeneric(obj: KubeObject, namespaced: boolean, events: KubeEvent[] | undefined, now: Date = new Date()): string {
  const out = new Out();
  describeMeta(out, obj, namespaced);
  out.map(0, 'Labels', obj.metadata.labels);
  out.map(0, 'Annotations', obj.metadata.annotations, ': ');
  out.field(0, 'Kind', obj.kind);
  out.field(0, 'API Version', obj.apiVersion);
  if (obj.metadata.creationTimestamp) out.field(0, 'Creation Timestamp', formatTime(obj.metadata.creationTimestamp));
  const ownerRef = obj.metadata.ownerReferences?.find((o) => o.controller);
  if (ownerRef) out.field(0, 'Controlled By', `${ownerRef.kind}/${ownerRef.name}`);
  const lines = out.text().trimEnd().split('\n');
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'metadata' || HIDDEN_META.has(k)) continue;
    const title = k[0]!.toUpperCase() + k.slice(1);
    if (v === null || v === undefined || typeof v !== 'object') {
      lines.push(`${title}:  ${v === undefined || v === null || v === '' ? '<none>' : String(v)}`);
      continue;
    }
    if (Object.keys(v).length === 0) {
      lines.push(`${title}:  <none>`);
      continue;
    }
    lines.push(`${title}:`);
    for (const l of stringify(v, { lineWidth: 0 }).trimEnd().split('\n')) lines.push(`  ${l}`);
  }
  const ev = new Out();
  describeEvents(ev, events, now);
  if (ev.lines.length > 0) lines.push(...ev.text().trimEnd().split('\n'));
  return lines.join('\n') + '\n';
}
