// The Raft subgroup on the 3-host lab (real agents, libp2p, one dockerd per host):
// - commit latency: a no-op proposed on the leader, and on a follower (forwarded), until applied;
// - leader failover: kill -9 of the leader's agent until the survivors agree on a new leader;
// - pod recovery: a host dies (link cut, agent killed, containers removed) until a
//   ReplicaSet's 6 pods all run on the survivors.
// DESIGN.md §6: Raft leader killed -> new leader <= 2 s; host killed -> its pods running elsewhere <= 10 s.
// Run (as root): node bench/consensus-lab.bench.ts [proposals=200] [failovers=5] [recoveries=2]
// Brings the lab up if it is not, and takes it down again only if it did.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_RUN, labDown, labUp, type LabHost } from '../test/support/lab.ts';
import { agreedLeader, perNode, podsOf, replicaSet, waitForLeader } from '../test/support/lab-raft.ts';

const proposals = Number(process.argv[2] ?? 200);
const failovers = Number(process.argv[3] ?? 5);
const recoveries = Number(process.argv[4] ?? 2);
const broughtUp = !existsSync(join(LAB_RUN, 'h1'));
const hosts = await labUp(3);
const runId = Math.random().toString(36).slice(2, 7);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} / p99 ${pct(xs, 99).toFixed(1)} / max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const byName = (name: string) => hosts.find((h) => h.name === name)!;

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

try {
  // Commit latency, as the agent measures it around propose() (the curl round trip is not Raft's).
  const leader = byName(await waitForLeader(hosts, 3));
  const follower = hosts.find((h) => h !== leader)!;
  for (const [label, h] of (proposals > 0 ? [['on the leader', leader], ['on a follower (forwarded)', follower]] : []) as [string, LabHost][]) {
    const ms: number[] = [];
    for (let i = 0; i < proposals; i++) {
      const r = await h.api('POST', '/mesh/v1/raft/commit-probe');
      if (r.status !== 200) throw new Error(`commit probe on ${h.name}: ${r.status} ${JSON.stringify(r.body)}`);
      ms.push(r.body.ms as number);
    }
    console.log(`raft commit ${label}: ${fmt(ms)}`);
  }

  // Failover.
  const took: number[] = [];
  for (let i = 0; i < failovers; i++) {
    const old = byName(await waitForLeader(hosts, 3));
    const rest = hosts.filter((h) => h !== old);
    await old.kill9();
    const t0 = Date.now();
    const next = await until('a new leader', async () => {
      const l = await agreedLeader(rest);
      return l && l !== old.name ? l : undefined;
    }, 30_000, 20);
    took.push(Date.now() - t0);
    console.log(`failover ${i + 1}: ${old.name} killed -> ${next} leads after ${took.at(-1)} ms`);
    await old.start();
  }
  if (took.length) console.log(`leader failover: ${fmt(took)} (goal <= 2000 ms)`);

  // Pod recovery after a host dies.
  const rec: number[] = [];
  for (let i = 0; i < recoveries; i++) {
    const lead = byName(await waitForLeader(hosts, 3));
    // Every host Ready first, so the pods spread over all three and the victim holds its share.
    await until('every node Ready', async () => {
      const r = await lead.api('GET', '/api/v1/nodes');
      return (r.body.items as any[]).length === 3 && (r.body.items as any[]).every((n) => n.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') && !(n.spec?.taints ?? []).length);
    }, 60_000, 200);
    const name = `bench-rec-${runId}-${i}`;
    await lead.api('POST', '/apis/apps/v1/namespaces/default/replicasets', replicaSet(name, 6));
    const spread = await until('6 running', async () => {
      const c = perNode(await podsOf(lead, `app=${name}`));
      return Object.values(c).reduce((a, b) => a + b, 0) === 6 ? c : undefined;
    }, 120_000, 200);
    const victim = hosts.find((h) => h !== lead && (spread[h.name] ?? 0) > 0);
    if (!victim) throw new Error(`no worker runs a pod of ${name}: ${JSON.stringify(spread)}`);
    await victim.cut();
    await victim.kill9();
    const t0 = Date.now();
    const ids = (await victim.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length) await victim.docker(['rm', '-f', ...ids]);
    await until('6 running on the survivors', async () => {
      const c = perNode(await podsOf(lead, `app=${name}`));
      return !c[victim.name] && Object.values(c).reduce((a, b) => a + b, 0) === 6;
    }, 60_000);
    rec.push(Date.now() - t0);
    console.log(`recovery ${i + 1}: ${victim.name} died with ${spread[victim.name]} of the 6 pods -> all 6 running elsewhere after ${rec.at(-1)} ms`);
    await victim.heal();
    await victim.start();
    await lead.api('DELETE', `/apis/apps/v1/namespaces/default/replicasets/${name}`);
    await waitForLeader(hosts, 3);
  }
  console.log(`pod recovery after a host dies: ${fmt(rec)} (goal <= 10000 ms)`);
} finally {
  if (broughtUp) await labDown();
}
