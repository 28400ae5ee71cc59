// Service proxy rules: `node bench/proxy-rules.bench.ts [serviceCounts] [--runs=N] [--changes=N]`,
// e.g. `node bench/proxy-rules.bench.ts 1000,10000`. Needs root (it creates
// network namespaces, and deletes them at the end).
//
// For each count: services with 1 port and 3 ready endpoints (one on this
// node, two on others). Measures
//   - model + render: building the model from the API objects and rendering the
//     iptables-restore text, cold (a new render cache each time);
//   - full apply: the applier's first apply into a fresh network namespace, and
//     a forced full re-apply over the rules already there (the periodic sync);
//   - one endpoint change -> its rule applied: a real service proxy on an
//     in-memory store, the applier in a namespace; from the EndpointSlice write
//     to the end of the incremental iptables-restore (proxy.idle()), changes
//     60 ms apart (beyond the proxy's 50 ms minimum sync interval);
//   - the same rules in ascending chain order (what the renderer's ordering avoids), once.
// Bounded: fixed counts and runs; no traffic is sent.
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { mustExec } from '../src/agent/host-exec.ts';
import { silentLogger } from '../src/agent/logger.ts';
import { createIptablesApplier } from '../src/agent/proxy/iptables-applier.ts';
import { createRenderCache, renderRuleSet, renderRules } from '../src/agent/proxy/render-rules.ts';
import { declaration, type RuleSet } from '../src/agent/proxy/restore-text.ts';
import { buildServiceModel, type EndpointSliceInput, type ServiceInput } from '../src/agent/proxy/service-model.ts';
import { ENDPOINT_SLICES, createServiceProxy } from '../src/agent/proxy/service-proxy.ts';
import { createFakeObjectClient } from '../test/support/fake-object-client.ts';
import { NODE, createTestNetns } from '../test/unit/proxy/proxy-fixtures.ts';

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const COUNTS = (positional[0] ?? '1000,10000').split(',').map(Number);
const RUNS = Number(flag('runs') ?? 3);
const CHANGES = Number(flag('changes') ?? 30);

function out(line: string): void {
  process.stdout.write(line + '\n');
}

const ms = (x: number) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

function endpointIp(i: number, j: number): string {
  const k = i * 3 + j;
  return `10.244.${1 + j}.${2 + (k % 250)}`;
}

function cluster(n: number): { services: ServiceInput[]; slices: EndpointSliceInput[] } {
  const services: ServiceInput[] = [];
  const slices: EndpointSliceInput[] = [];
  for (let i = 0; i < n; i++) {
    const name = `svc-${i}`;
    services.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: 'bench', uid: `u${i}` },
      spec: { type: 'ClusterIP', clusterIP: `10.96.${1 + (i >> 8)}.${i & 255}`, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    });
    slices.push(sliceOf(name, [0, 1, 2].map((j) => endpointIp(i, j))));
  }
  return { services, slices };
}

function sliceOf(service: string, ips: string[]): EndpointSliceInput {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    addressType: 'IPv4',
    metadata: { name: `${service}-a`, namespace: 'bench', labels: { 'kubernetes.io/service-name': service } },
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: ips.map((ip, j) => ({ addresses: [ip], conditions: { ready: true, serving: true, terminating: false }, nodeName: `n${1 + j}` })),
  };
}

/** The same rules with every declaration first, then each chain's rules, all in ascending chain order. */
function ascending(rules: RuleSet): string {
  const lines: string[] = [];
  for (const t of rules) {
    const byChain = new Map<string, string[]>();
    for (const s of t.segments) {
      if (!byChain.has(s.chain)) byChain.set(s.chain, []);
      byChain.get(s.chain)!.push(...s.rules);
    }
    const chains = [...byChain.keys()].sort();
    lines.push(`*${t.name}`, ...chains.map(declaration), ...chains.flatMap((c) => byChain.get(c)!), 'COMMIT');
  }
  return lines.join('\n') + '\n';
}

async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function benchCount(n: number): Promise<void> {
  const { services, slices } = cluster(n);
  out(`\n## ${n.toLocaleString('en-US')} services, 1 port, 3 endpoints each (load average ${loadavg()[0]!.toFixed(2)})`);

  const modelMs: number[] = [];
  const renderMs: number[] = [];
  let text = '';
  for (let r = 0; r < RUNS; r++) {
    const m = await timed(() => buildServiceModel({ services, endpointSlices: slices, node: NODE }));
    const t = await timed(() => renderRules(m.value, { cache: createRenderCache() }));
    modelMs.push(m.ms);
    renderMs.push(t.ms);
    text = t.value;
  }
  const lines = text.split('\n').length;
  out(`model ${ms(median(modelMs))}, render ${ms(median(renderMs))} (median of ${RUNS}; ${lines.toLocaleString('en-US')} lines, ${(text.length / 1e6).toFixed(1)} MB)`);

  // What the proxy does on a full sync: model, render to segments, apply (no text parsing).
  const firstMs: number[] = [];
  const againMs: number[] = [];
  const syncMs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const ns = await createTestNetns('mesh-proxy-bench');
    try {
      const applier = createIptablesApplier({ logger: silentLogger(), exec: ns.exec });
      const t0 = performance.now();
      const rules = renderRuleSet(buildServiceModel({ services, endpointSlices: slices, node: NODE }), { cache: createRenderCache() });
      firstMs.push((await applier.apply(rules)).durationMs);
      syncMs.push(performance.now() - t0);
      againMs.push((await applier.apply(rules, { full: true })).durationMs);
    } finally {
      await ns.remove();
    }
  }
  const range = (xs: number[]) => `median ${ms(median(xs))} (min ${ms(Math.min(...xs))}, max ${ms(Math.max(...xs))})`;
  out(`full apply into an empty namespace: ${range(firstMs)}`);
  out(`full sync (model + render + apply), empty namespace: ${range(syncMs)}`);
  out(`full re-apply over the same rules (the periodic sync): ${range(againMs)}`);

  const ns = await createTestNetns('mesh-proxy-bench');
  try {
    const client = createFakeObjectClient();
    for (const s of services) await client.create('services', s);
    for (const s of slices) await client.create(ENDPOINT_SLICES, s);
    const applier = createIptablesApplier({ logger: silentLogger(), exec: ns.exec, serviceCidrRoute: 'none' });
    // The default minimum interval between syncs; changes are spaced beyond it, as isolated changes are.
    const proxy = createServiceProxy({ client, nodeName: NODE.nodeName, nodeIPs: NODE.nodeIPs, applier, logger: silentLogger() });
    const start = await timed(() => proxy.start());
    out(`service proxy start (list, model, render, ensureJumps, full apply): ${ms(start.ms)}`);
    const lat: number[] = [];
    const sync: number[] = [];
    for (let k = 0; k < CHANGES; k++) {
      const i = (k * 7919) % n;
      const cur = client.get<EndpointSliceInput>(ENDPOINT_SLICES, 'bench', `svc-${i}-a`)!;
      const ips = [endpointIp(i, 0), endpointIp(i, 1), `10.244.9.${1 + (k % 250)}`];
      await new Promise((resolve) => setTimeout(resolve, 60));
      const t0 = performance.now();
      await client.update(ENDPOINT_SLICES, { ...cur, endpoints: sliceOf(`svc-${i}`, ips).endpoints });
      await proxy.idle();
      lat.push(performance.now() - t0);
      sync.push(proxy.status().lastSyncDurationMs ?? NaN);
      if (proxy.status().lastSyncMode !== 'incremental') throw new Error(`change ${k}: sync was ${proxy.status().lastSyncMode}`);
    }
    const saved = await mustExec(ns.exec, 'iptables-save', ['-t', 'nat']);
    if (!saved.includes(`--to-destination 10.244.9.${1 + ((CHANGES - 1) % 250)}:8080`)) throw new Error('the last change is not in the kernel');
    out(`one endpoint change -> applied (${CHANGES} changes): p50 ${ms(pct(lat, 50))}, p99 ${ms(pct(lat, 99))}, max ${ms(Math.max(...lat))}`);
    out(`  of which the proxy's sync (model, render, diff, restore): p50 ${ms(pct(sync, 50))}, p99 ${ms(pct(sync, 99))}`);
    // A new service also rewrites MESH-SERVICES, which holds a rule per service.
    const added: number[] = [];
    for (let k = 0; k < 5; k++) {
      const name = `added-${k}`;
      await new Promise((resolve) => setTimeout(resolve, 60));
      const t0 = performance.now();
      await client.create('services', { ...services[0]!, metadata: { name, namespace: 'bench', uid: `a${k}` }, spec: { ...services[0]!.spec, clusterIP: `10.96.250.${k + 1}` } });
      await client.create(ENDPOINT_SLICES, sliceOf(name, [endpointIp(k, 0), endpointIp(k, 1), endpointIp(k, 2)]));
      await proxy.idle();
      added.push(performance.now() - t0);
    }
    await proxy.stop();
    out(`one service added -> applied (5 services): median ${ms(median(added))}, max ${ms(Math.max(...added))}`);
  } finally {
    await ns.remove();
  }

  // Where an incremental restore's time goes: the kernel checks every chain
  // reachable from a built-in chain on each commit that adds a DNAT or jump.
  {
    const nsJ = await createTestNetns('mesh-proxy-bench');
    try {
      const applier = createIptablesApplier({ logger: silentLogger(), exec: nsJ.exec, serviceCidrRoute: 'none' });
      const rules = renderRuleSet(buildServiceModel({ services, endpointSlices: slices, node: NODE }));
      await applier.apply(rules);
      const chain = rules[0]!.segments.find((sg) => sg.chain.startsWith('MESH-SVC-'))!;
      const one = `*nat\n${declaration(chain.chain)}\n${chain.rules.join('\n')}\nCOMMIT\n`;
      const restoreOne = async () => {
        const xs: number[] = [];
        for (let k = 0; k < 10; k++) xs.push((await timed(() => mustExec(nsJ.exec, 'iptables-restore', ['-w', '5', '--noflush'], one))).ms);
        return median(xs);
      };
      const without = await restoreOne();
      await applier.ensureJumps();
      const withJumps = await restoreOne();
      out(`restore of one service chain (median of 10): ${ms(without)} before the jumps from PREROUTING/OUTPUT exist, ${ms(withJumps)} after`);
    } finally {
      await nsJ.remove();
    }
  }

  if (n >= 10_000) {
    const naive = ascending(renderRuleSet(buildServiceModel({ services, endpointSlices: slices, node: NODE })));
    const nsA = await createTestNetns('mesh-proxy-bench');
    try {
      const t = await timed(() => mustExec(nsA.exec, 'iptables-restore', ['-w', '5', '--noflush'], naive));
      out(`same rules in ascending chain order, one restore: ${ms(t.ms)}`);
    } finally {
      await nsA.remove();
    }
  }
}

out(`# proxy rules benchmark (iptables ${(await mustExec((await import('../src/agent/host-exec.ts')).createHostExec(), 'iptables', ['--version'])).trim()})`);
for (const n of COUNTS) await benchCount(n);
