// Propagation on the 3-host lab: how long from a write sent to h1's API until
// the object appears in a watch on h2 and on h3 (real agents, real libp2p,
// one network namespace and dockerd per host). Also each agent's memory, idle.
// DESIGN.md §6: change visible on every agent p99 <= 500 ms on the lab.
// Run (as root): node bench/propagation-lab.bench.ts [writes=200]
// Brings the lab up if it is not, and takes it down again only if it did.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { LAB_RUN, LAB_VAR, labDown, labUp } from '../test/support/lab.ts';

const writes = Number(process.argv[2] ?? 200);
const broughtUp = !existsSync(join(LAB_RUN, 'h1'));
await labUp(3);

interface HostApi {
  name: string;
  agent: Agent;
  token: string;
  ip: string;
}
async function hostApi(i: number): Promise<HostApi> {
  const pki = join(LAB_VAR, `h${i}`, 'mesh', 'pki');
  return {
    name: `h${i}`,
    ip: `10.77.0.${10 + i}`,
    agent: new Agent({ ca: await readFile(join(pki, 'ca.crt')), keepAlive: true }),
    token: (await readFile(join(pki, 'admin.token'), 'utf8')).trim(),
  };
}
const hosts = await Promise.all([1, 2, 3].map(hostApi));
const [h1, ...others] = hosts as [HostApi, HostApi, HostApi];
const runId = Math.random().toString(36).slice(2, 7);

function post(h: HostApi, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: h.ip, port: 6443, method: 'POST', path: '/api/v1/namespaces/default/configmaps', agent: h.agent,
        headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`POST ${name}: ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { bench: runId } }, data: { v: name } }));
  });
}

/** Watches configmaps on h and calls onAdded(name, time) for each new one of this run. */
function watch(h: HostApi, onAdded: (name: string, at: number) => void): () => void {
  const req = request(
    {
      host: h.ip, port: 6443, agent: new Agent({ ca: h.agent.options.ca }),
      path: `/api/v1/namespaces/default/configmaps?watch=true&labelSelector=bench%3D${runId}&timeoutSeconds=600`,
      headers: { Authorization: `Bearer ${h.token}` },
    },
    (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const at = performance.now();
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const ev = JSON.parse(line) as { type: string; object: { metadata: { name: string } } };
          if (ev.type === 'ADDED') onAdded(ev.object.metadata.name, at);
        }
      });
    },
  );
  req.on('error', () => undefined);
  req.end();
  return () => req.destroy();
}

const sentAt = new Map<string, number>();
const seen = new Map<string, Map<string, number>>(); // host -> name -> latency
for (const h of others) seen.set(h.name, new Map());
const stops = others.map((h) => watch(h, (name, at) => {
  const t0 = sentAt.get(name);
  if (t0 !== undefined) seen.get(h.name)!.set(name, at - t0);
}));
await new Promise((r) => setTimeout(r, 1000)); // watches established

const deadline = Date.now() + 120_000;
for (let i = 0; i < writes && Date.now() < deadline; i++) {
  const name = `prop-${runId}-${i}`;
  sentAt.set(name, performance.now());
  await post(h1, name);
  await new Promise((r) => setTimeout(r, 20));
}
const waitUntil = Date.now() + 10_000;
while (Date.now() < waitUntil && others.some((h) => seen.get(h.name)!.size < sentAt.size)) await new Promise((r) => setTimeout(r, 100));
for (const stop of stops) stop();

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? `p50 ${pct(s, 50).toFixed(0)} ms  p99 ${pct(s, 99).toFixed(0)} ms  max ${s.at(-1)!.toFixed(0)} ms` : 'none';
};
console.log(`propagation on the 3-host lab: ${sentAt.size} ConfigMap creates on h1 (20 ms apart), seen by watches on h2 and h3`);
console.log('  (latency = from sending the POST to h1 until the ADDED event arrives from the other host; includes the write itself)');
const everywhere: number[] = [];
for (const name of sentAt.keys()) {
  const ls = others.map((h) => seen.get(h.name)!.get(name));
  if (ls.every((l) => l !== undefined)) everywhere.push(Math.max(...(ls as number[])));
}
for (const h of others) console.log(`  on ${h.name}: ${fmt([...seen.get(h.name)!.values()])}  (${seen.get(h.name)!.size}/${sentAt.size} seen)`);
console.log(`  on every host: ${fmt(everywhere)}`);
const p99 = everywhere.length ? pct([...everywhere].sort((a, b) => a - b), 99) : Infinity;
console.log(`  goal (DESIGN.md §6): p99 <= 500 ms on the lab -> ${p99 <= 500 && everywhere.length === sentAt.size ? 'met' : 'NOT met'}`);

for (const h of hosts) {
  const pid = (await readFile(join(LAB_RUN, h.name, 'agent.pid'), 'utf8')).trim();
  const rss = Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  console.log(`  ${h.name} agent rss: ${rss.toFixed(0)} MB (holding ${sentAt.size} extra ConfigMaps; goal idle <= 120 MB)`);
}
for (const h of hosts) h.agent.destroy();
if (broughtUp) await labDown();
