// Agent memory (RSS) idle and holding 10,000 objects, and the agent's restart
// time with them: a real agent process (`bin/mesh agent`) on this machine's
// Docker. DESIGN.md §6 goals: <= 120 MB idle, <= 300 MB with 10,000 objects,
// store restart with 10,000 objects <= 2 s.
// Run: node bench/agent-memory.bench.ts [objects]
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { startAgentProcess, type AgentProcess } from '../test/support/agent-process.ts';

const objects = Number(process.argv[2] ?? 10_000);

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function createMany(a: AgentProcess, n: number): Promise<void> {
  const pki = join(a.dataDir, 'pki');
  const ca = await readFile(join(pki, 'ca.crt'));
  const token = (await readFile(join(pki, 'admin.token'), 'utf8')).trim();
  const agent = new Agent({ ca, keepAlive: true, maxSockets: 8 });
  const post = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1', port: a.port, method: 'POST', path: '/api/v1/namespaces/default/configmaps', agent,
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({
        apiVersion: 'v1', kind: 'ConfigMap',
        metadata: { name: `obj-${i}`, labels: { app: `app-${i % 50}`, tier: 'bench' } },
        data: { index: String(i), config: 'key=value\n'.repeat(20) },
      }));
    });
  for (let i = 0; i < n; i += 8) await Promise.all(Array.from({ length: Math.min(8, n - i) }, (_, j) => post(i + j)));
  agent.destroy();
}

const a = await startAgentProcess({ prefix: 'bench-mem' });
try {
  await new Promise((r) => setTimeout(r, 10_000));
  const idle = await rssMb(a.pid());
  const t0 = performance.now();
  await createMany(a, objects);
  const loadS = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 5_000));
  const loaded = await rssMb(a.pid());
  await a.stop();
  const t1 = performance.now();
  await a.restart();
  const restartS = (performance.now() - t1) / 1000;
  await new Promise((r) => setTimeout(r, 5_000));
  const afterRestart = await rssMb(a.pid());
  console.log(`agent memory and restart (real agent process, ${objects} ConfigMaps)`);
  console.log(`  rss idle (10 s after start)          ${idle.toFixed(0)} MB   goal <= 120 MB`);
  console.log(`  rss with ${objects} objects            ${loaded.toFixed(0)} MB   goal <= 300 MB`);
  console.log(`  rss after restart with them         ${afterRestart.toFixed(0)} MB`);
  console.log(`  restart to API ready                ${restartS.toFixed(2)} s   goal <= 2 s (store part: see bench/store.bench.ts)`);
  console.log(`  load rate                           ${(objects / loadS).toFixed(0)} creates/s (8 concurrent clients)`);
} finally {
  await a.destroy();
}
