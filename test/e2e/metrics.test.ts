// Metrics end to end: two real agents on real Docker, a busy pod (CPU-limited
// to 200m) and an idle one; kubectl top and mesh top on either agent answer
// for the whole cluster through metrics.k8s.io, and /metrics is a valid
// Prometheus exposition with the agent's metric families.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { kubectl, mesh, startAgentProcess, waitFor, type AgentProcess } from '../support/agent-process.ts';
import { parsePromText } from '../support/prom-text.ts';
import { parseQuantity } from '../../src/agent/api/admission/quantity.ts';

const IMAGE = 'mesh.local/busybox:latest';

function pod(name: string, command: string, cpuLimit?: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: { app: ${name} }
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: main
      image: ${IMAGE}
      imagePullPolicy: IfNotPresent
      command: ["sh", "-c", "${command}"]
${cpuLimit ? `      resources: { limits: { cpu: ${cpuLimit} } }\n` : ''}`;
}

/** `NAME CPU MEM` rows of kubectl/mesh top pods output, as millicores and MiB. */
function topRows(stdout: string): Map<string, { cpuMilli: number; memMi: number; cells: string[] }> {
  const rows = new Map<string, { cpuMilli: number; memMi: number; cells: string[] }>();
  for (const line of stdout.trim().split('\n').slice(1)) {
    const cells = line.trim().split(/\s+/);
    const cpu = cells.find((c) => /^\d+m$/.test(c));
    const mem = cells.find((c) => /^\d+Mi$/.test(c));
    rows.set(cells.length === 4 ? `${cells[0]}/${cells[1]}` : cells[0]!, {
      cpuMilli: Number(cpu?.slice(0, -1) ?? NaN),
      memMi: Number(mem?.slice(0, -2) ?? NaN),
      cells,
    });
  }
  return rows;
}

async function unauthenticated(agent: AgentProcess, path: string): Promise<number> {
  const ca = await readFile(join(agent.dataDir, 'pki', 'ca.crt'));
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: agent.port, path, agent: new Agent({ ca }) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('metrics: kubectl top, mesh top and /metrics on real agents', { timeout: 150_000 }, () => {
  let a: AgentProcess;
  let b: AgentProcess;

  before(async () => {
    a = await startAgentProcess({ prefix: 'metrics-a', args: ['--metrics-interval', '2s'] });
    b = await startAgentProcess({ prefix: 'metrics-b', joinVia: a, args: ['--metrics-interval', '2s'] });
    for (const [name, cmd, limit] of [
      ['busy', 'while :; do :; done', '200m'],
      ['idle', 'sleep 3600', undefined],
    ] as const) {
      const r = await kubectl(a, ['apply', '-f', '-'], pod(name, cmd, limit));
      assert.equal(r.code, 0, r.stderr);
    }
    await waitFor(
      'both pods Running',
      async () => {
        const r = await kubectl(a, ['get', 'pods', '--no-headers']);
        return (r.stdout.match(/\bRunning\b/g) ?? []).length === 2;
      },
      40_000,
    );
  });
  after(async () => {
    await Promise.allSettled([b?.destroy(), a?.destroy()]);
  });

  it('discovery lists metrics.k8s.io/v1beta1 with nodes and pods', async () => {
    const groups = await a.api('GET', '/apis');
    assert.ok(groups.body.groups.some((g: { name: string; preferredVersion: { version: string } }) => g.name === 'metrics.k8s.io' && g.preferredVersion.version === 'v1beta1'));
    const list = await a.api('GET', '/apis/metrics.k8s.io/v1beta1');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.resources.map((r: { name: string }) => r.name).sort(), ['nodes', 'pods']);
  });

  it('kubectl top pods shows the busy pod well above the idle one and within its limit, on either agent', async () => {
    // The first window can include container start-up; wait for a settled reading.
    const rows = await waitFor(
      'settled top pods figures',
      async () => {
        const r = await kubectl(b, ['top', 'pods']);
        if (r.code !== 0) return undefined;
        const rows = topRows(r.stdout);
        const busy = rows.get('busy');
        return busy && rows.get('idle') && busy.cpuMilli >= 100 ? rows : undefined;
      },
      60_000,
    );
    const busy = rows.get('busy')!;
    const idle = rows.get('idle')!;
    assert.ok(busy.cpuMilli <= 260, `busy pod within its 200m limit + margin: ${busy.cpuMilli}m`);
    assert.ok(idle.cpuMilli <= 20, `idle pod near zero: ${idle.cpuMilli}m`);
    assert.ok(busy.cpuMilli > idle.cpuMilli + 80, `busy ${busy.cpuMilli}m vs idle ${idle.cpuMilli}m`);

    // Memory in the API itself (kubectl rounds busybox's few hundred KiB down to 0Mi).
    const doc = await b.api('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy');
    assert.equal(doc.status, 200, JSON.stringify(doc.body));
    assert.equal(doc.body.kind, 'PodMetrics');
    assert.match(doc.body.window, /^\d+(\.\d+)?s$/);
    assert.ok(parseQuantity(doc.body.containers[0].usage.memory)! > 0, `memory ${doc.body.containers[0].usage.memory}`);
    assert.ok(parseQuantity(doc.body.containers[0].usage.cpu)! > 0.05);

    const selected = await kubectl(a, ['top', 'pods', '-l', 'app=idle']);
    assert.equal(selected.code, 0, selected.stderr);
    assert.deepEqual([...topRows(selected.stdout).keys()], ['idle']);

    const all = await kubectl(a, ['top', 'pods', '-A']);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout.split('\n')[0]!, /^NAMESPACE\s+NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)/);
    assert.deepEqual([...topRows(all.stdout).keys()].sort(), ['default/busy', 'default/idle']);

    const missing = await a.api('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope');
    assert.equal(missing.status, 404);
  });

  it('kubectl top nodes lists both nodes from either agent', async () => {
    for (const agent of [a, b]) {
      const out = await waitFor(
        `both nodes in top nodes on ${agent.nodeName}`,
        async () => {
          const r = await kubectl(agent, ['top', 'nodes']);
          return r.code === 0 && r.stdout.includes(a.nodeName) && r.stdout.includes(b.nodeName) && !r.stdout.includes('<unknown>') ? r.stdout : undefined;
        },
        30_000,
      );
      assert.match(out.split('\n')[0]!, /^NAME\s+CPU\(cores\)\s+CPU(\(%\)|%)\s+MEMORY\(bytes\)\s+MEMORY(\(%\)|%)/);
      const row = out.split('\n').find((l) => l.startsWith(a.nodeName))!.trim().split(/\s+/);
      assert.match(row[1]!, /^\d+m$/);
      assert.match(row[2]!, /^\d+%$/);
      assert.ok(Number(row[3]!.slice(0, -2)) > 0, `node memory ${row[3]}`);
    }
  });

  it('mesh top pods and mesh top nodes read the same API', async () => {
    const pods = await mesh(a, ['top', 'pods']);
    assert.equal(pods.code, 0, pods.stderr);
    assert.match(pods.stdout.split('\n')[0]!, /^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)$/);
    const rows = topRows(pods.stdout);
    assert.ok(rows.get('busy')!.cpuMilli > rows.get('idle')!.cpuMilli, pods.stdout);
    const allNs = await mesh(a, ['top', 'pods', '-A']);
    assert.equal(allNs.code, 0, allNs.stderr);
    assert.match(allNs.stdout, /^NAMESPACE\s+NAME/);
    const nodes = await mesh(b, ['top', 'nodes']);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.match(nodes.stdout.split('\n')[0]!, /^NAME\s+CPU\(cores\)\s+CPU\(%\)\s+MEMORY\(bytes\)\s+MEMORY\(%\)$/);
    assert.ok(nodes.stdout.includes(a.nodeName) && nodes.stdout.includes(b.nodeName), nodes.stdout);
  });

  it('/metrics needs authentication and is a valid exposition with the agent families', async () => {
    assert.equal(await unauthenticated(a, '/metrics'), 401);
    const r = await a.api('GET', '/metrics');
    assert.equal(r.status, 200);
    assert.equal(typeof r.body, 'string');
    const families = parsePromText(r.body);
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'apiserver_request_duration_seconds',
      'apiserver_request_total',
      'mesh_gossip_heartbeat_age_seconds',
      'mesh_members',
      'mesh_store_objects',
      'mesh_store_resource_version',
      'mesh_replication_changes',
      'mesh_scheduler_pending_pods',
      'kubelet_running_pods',
      'mesh_metrics_nodes',
      'mesh_raft_term',
      'mesh_raft_commit_index',
      'mesh_raft_leader',
    ]) {
      assert.ok(families.has(name), `family ${name} present`);
    }
    const latency = families.get('apiserver_request_duration_seconds')!;
    assert.equal(latency.type, 'histogram');
    assert.ok(latency.samples.some((s) => s.labels.verb === 'LIST' && s.labels.resource === 'pods' && s.name.endsWith('_count') && s.value > 0));
    const lag = families.get('mesh_gossip_heartbeat_age_seconds')!.samples.find((s) => s.labels.peer === b.nodeName);
    assert.ok(lag && lag.value >= 0 && lag.value < 10, `heartbeat age of ${b.nodeName}: ${lag?.value}`);
    const pods = families.get('mesh_store_objects')!.samples.find((s) => s.labels.resource === 'pods');
    assert.equal(pods?.value, 2);
    assert.equal(families.get('mesh_metrics_nodes')!.samples[0]!.value, 2);
    const running = families.get('kubelet_running_pods')!.samples[0]!.value;
    const runningB = parsePromText((await b.api('GET', '/metrics')).body).get('kubelet_running_pods')!.samples[0]!.value;
    assert.equal(running + runningB, 2, 'the two pods run on the two nodes together');
  });
});
