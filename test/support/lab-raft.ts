// Helpers for lab tests and benchmarks about the Raft subgroup and leader-only
// work: who leads as each host sees it, ReplicaSets and their pods, and the
// containers each host's dockerd really runs.
import { waitFor } from './agent-process.ts';
import { BUSYBOX_IMAGE, type LabHost } from './lab.ts';
import type { RaftGroupStatus } from '../../src/agent/mesh-status.ts';

export async function raftOf(h: LabHost): Promise<RaftGroupStatus | undefined> {
  try {
    const r = await h.api('GET', '/mesh/v1/status');
    return r.status === 200 ? (r.body.raft as RaftGroupStatus) : undefined;
  } catch {
    return undefined;
  }
}

/** The leader every given host agrees on, with that many voters and a quorum. */
export async function agreedLeader(hosts: LabHost[], voters?: number): Promise<string | undefined> {
  const views = await Promise.all(hosts.map(raftOf));
  const first = views[0];
  if (!first?.leader || !first.quorum) return undefined;
  if (voters !== undefined && first.voters.length !== voters) return undefined;
  const same = views.every((v) => v !== undefined && v.leader === first.leader && v.quorum && v.term === first.term);
  return same ? first.leader : undefined;
}

export function waitForLeader(hosts: LabHost[], voters?: number, timeoutMs = 60_000): Promise<string> {
  return waitFor(`one Raft leader${voters ? ` with ${voters} voters` : ''} agreed by ${hosts.map((h) => h.name).join(', ')}`, () => agreedLeader(hosts, voters), timeoutMs);
}

export interface PodView {
  name: string;
  nodeName?: string;
  phase?: string;
  ready: boolean;
  deleting: boolean;
  labels: Record<string, string>;
  scheduledMessage?: string;
}

export async function podsOf(h: LabHost, labelSelector: string, namespace = 'default'): Promise<PodView[]> {
  const r = await h.api('GET', `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(labelSelector)}`);
  if (r.status !== 200) throw new Error(`list pods on ${h.name}: ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body.items as any[]).map((p) => ({
    name: p.metadata.name,
    nodeName: p.spec.nodeName,
    phase: p.status?.phase,
    ready: (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'),
    deleting: Boolean(p.metadata.deletionTimestamp),
    labels: p.metadata.labels ?? {},
    scheduledMessage: (p.status?.conditions ?? []).find((c: any) => c.type === 'PodScheduled' && c.status === 'False')?.message,
  }));
}

/** A busybox pod template that sleeps; `extra` is merged into the pod spec. */
export function sleeperTemplate(labels: Record<string, string>, extra: Record<string, unknown> = {}) {
  return {
    metadata: { labels },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }],
      ...extra,
    },
  };
}

export function replicaSet(name: string, replicas: number, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'default' },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: sleeperTemplate({ app: name }, extra) },
  };
}

/** Running pods of the selector that are not being deleted, by node. */
export function perNode(pods: PodView[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of pods) if (p.phase === 'Running' && !p.deleting && p.nodeName) out[p.nodeName] = (out[p.nodeName] ?? 0) + 1;
  return out;
}

/** App containers each host's dockerd is running for pods whose name starts with prefix. */
export async function runningContainers(hosts: LabHost[], podPrefix: string): Promise<{ host: string; pod: string }[]> {
  const out: { host: string; pod: string }[] = [];
  for (const h of hosts) {
    const r = await h.docker(['ps', '--filter', 'label=io.mesh.container.kind=app', '--format', '{{.Label "io.mesh.pod.name"}}']);
    if (r.code !== 0) continue; // a killed host's dockerd may be gone
    for (const pod of r.stdout.split('\n').map((s) => s.trim()).filter(Boolean)) {
      if (pod.startsWith(podPrefix)) out.push({ host: h.name, pod });
    }
  }
  return out;
}
