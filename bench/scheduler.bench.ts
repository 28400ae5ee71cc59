// Scheduler throughput: `node bench/scheduler.bench.ts [pods] [nodeCounts] [--percentage=N] [--seed=N]`,
// e.g. `node bench/scheduler.bench.ts 5000 100,1000,5000`. Schedules that many
// pending pods (mixed requests; some with node affinity, topology spread, pod
// (anti-)affinity, GPUs, host ports) one after another against simulated
// nodes, with the same pure scheduleOne() and incremental snapshot the binder
// uses; each bind is counted as the snapshot update the binder makes (assume).
// Prints pods/s per node count. Bounded: fixed pod and node counts; no I/O.

import type { Pod } from '../src/agent/api/object-types.ts';
import { createClusterSnapshot, type ClusterSnapshot } from '../src/agent/scheduler/cluster-snapshot.ts';
import { createDefaultPlugins } from '../src/agent/scheduler/default-plugins.ts';
import { scheduleOne } from '../src/agent/scheduler/scheduling-cycle.ts';
import type { SchedNode, SchedPodSpecExtras } from '../src/agent/scheduler/scheduling-shapes.ts';
import { pick, seededRandom, type Random } from '../test/support/seeded-random.ts';

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const PODS = Number(positional[0] ?? 5000);
const NODE_COUNTS = (positional[1] ?? '100,1000,5000').split(',').map(Number);
const PERCENTAGE = Number(flag('percentage') ?? 0);
const SEED = Number(flag('seed') ?? 1);
const ZONES = ['zone-a', 'zone-b', 'zone-c', 'zone-d', 'zone-e'];
const POOLS = ['general', 'memory', 'compute'];
const NAMESPACES = ['ns-0', 'ns-1', 'ns-2', 'ns-3', 'ns-4'];
const APPS = 50;

function out(line: string): void {
  process.stdout.write(line + '\n');
}

function makeNode(i: number, rnd: Random): SchedNode {
  const name = `node-${String(i).padStart(5, '0')}`;
  const gpu = i % 10 === 9;
  const cpu = pick(rnd, [8, 16, 32, 64]);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'topology.kubernetes.io/zone': ZONES[i % ZONES.length]!,
        pool: gpu ? 'gpu' : POOLS[i % POOLS.length]!,
      },
    },
    spec: gpu ? { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] } : {},
    status: {
      conditions: [{ type: 'Ready', status: 'True' }],
      allocatable: {
        cpu: `${cpu * 1000 - 200}m`,
        memory: `${cpu * 4}Gi`,
        'ephemeral-storage': '100Gi',
        pods: '110',
        ...(gpu ? { 'nvidia.com/gpu': '8' } : {}),
      },
    },
  };
}

type Kind = 'plain' | 'selector' | 'spread' | 'anti' | 'affinity' | 'gpu' | 'ports';

function makePod(i: number, rnd: Random): { pod: Pod; kind: Kind } {
  const app = `app-${Math.floor(rnd() * APPS)}`;
  const namespace = NAMESPACES[i % NAMESPACES.length]!;
  const requests = { cpu: `${pick(rnd, [50, 100, 250, 500])}m`, memory: `${pick(rnd, [64, 128, 256, 512, 1024])}Mi` };
  const spec: Pod['spec'] & SchedPodSpecExtras = { containers: [{ name: 'c', image: 'busybox', resources: { requests } }] };
  const r = rnd();
  let kind: Kind = 'plain';
  if (r < 0.1) {
    kind = 'selector';
    spec.affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['general', 'memory'] }] }] },
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, preference: { matchExpressions: [{ key: 'pool', operator: 'In', values: ['memory'] }] } }],
      },
    };
  } else if (r < 0.2) {
    kind = 'spread';
    spec.topologySpreadConstraints = [
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app } } },
      { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app } } },
    ];
  } else if (r < 0.25) {
    kind = 'anti';
    spec.affinity = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app, ha: 'true' } } }],
      },
    };
  } else if (r < 0.3) {
    kind = 'affinity';
    spec.affinity = {
      podAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 50, podAffinityTerm: { topologyKey: 'topology.kubernetes.io/zone', labelSelector: { matchLabels: { app } } } },
        ],
      },
    };
  } else if (r < 0.35) {
    kind = 'gpu';
    spec.tolerations = [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }];
    spec.containers[0]!.resources = { requests: { ...requests, 'nvidia.com/gpu': String(pick(rnd, [1, 2])) }, limits: { 'nvidia.com/gpu': '2' } };
  } else if (r < 0.4) {
    kind = 'ports';
    spec.containers[0]!.ports = [{ containerPort: 8080, hostPort: 30000 + Math.floor(rnd() * 200) }];
  }
  const labels: Record<string, string> = { app };
  if (kind === 'anti') labels.ha = 'true';
  return { pod: { apiVersion: 'v1', kind: 'Pod', metadata: { name: `pod-${i}`, namespace, uid: `uid-${i}`, labels }, spec }, kind };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function run(nodeCount: number): void {
  const rnd = seededRandom(SEED * 7919 + nodeCount);
  const snapshot: ClusterSnapshot = createClusterSnapshot();
  const t0 = performance.now();
  for (let i = 0; i < nodeCount; i++) snapshot.setNode(makeNode(i, rnd));
  snapshot.nodes();
  const buildMs = performance.now() - t0;
  const pods = Array.from({ length: PODS }, (_, i) => makePod(i, rnd));
  const plugins = createDefaultPlugins();
  const perKind = new Map<Kind, { n: number; ms: number }>();
  const latencies: number[] = [];
  let scheduled = 0;
  let evaluated = 0;
  let startIndex = 0;
  const t1 = performance.now();
  for (const { pod, kind } of pods) {
    const s = performance.now();
    const outcome = scheduleOne(pod, snapshot, { plugins, startIndex, percentageOfNodesToScore: PERCENTAGE });
    startIndex = outcome.nextStartIndex;
    evaluated += outcome.evaluatedNodes;
    if ('nodeName' in outcome.result) {
      snapshot.assume(outcome.podInfo, outcome.result.nodeName);
      scheduled++;
    }
    const ms = performance.now() - s;
    latencies.push(ms);
    const k = perKind.get(kind) ?? { n: 0, ms: 0 };
    k.n++;
    k.ms += ms;
    perKind.set(kind, k);
  }
  const secs = (performance.now() - t1) / 1000;
  latencies.sort((a, b) => a - b);
  out(
    `${String(nodeCount).padStart(5)} nodes: ${(PODS / secs).toFixed(0).padStart(6)} pods/s ` +
      `(${PODS} pods in ${secs.toFixed(2)} s; ${scheduled} bound, ${PODS - scheduled} unschedulable; ` +
      `nodes filtered per pod ${(evaluated / PODS).toFixed(0)}; per pod p50 ${pct(latencies, 50).toFixed(2)} ms p99 ${pct(latencies, 99).toFixed(2)} ms; ` +
      `snapshot of ${nodeCount} nodes built in ${buildMs.toFixed(0)} ms)`,
  );
  out(
    '        per kind, mean ms: ' +
      [...perKind]
        .sort((a, b) => (a[0] < b[0] ? -1 : 1))
        .map(([k, v]) => `${k} ${(v.ms / v.n).toFixed(3)} (${v.n})`)
        .join(', '),
  );
}

out(`scheduler throughput: ${PODS} pending pods, seed ${SEED}, percentageOfNodesToScore ${PERCENTAGE || 'adaptive'}, node ${process.version}`);
for (const n of NODE_COUNTS) run(n);
