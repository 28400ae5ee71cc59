// API write latency: POST of a ConfigMap over HTTPS (keep-alive, one client),
// acknowledged only after the Automerge store made it durable. Compare with the
// DESIGN.md §6 goal: acknowledged API write p99 <= 20 ms.
// Run: node bench/api-write.bench.ts [count]
import { Agent, request } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePki } from '../src/agent/api/pki.ts';
import { createRegistry } from '../src/agent/api/registry.ts';
import { createApiServer } from '../src/agent/api/server.ts';
import { createAutomergeStore } from '../src/agent/store/automerge-store.ts';
import { silentLogger } from '../src/agent/logger.ts';

const count = Number(process.argv[2] ?? 2000);
const dir = await mkdtemp(join(tmpdir(), 'mesh-bench-api-'));
const logger = silentLogger();
const pki = await ensurePki(join(dir, 'pki'));
const store = createAutomergeStore({ dataDir: join(dir, 'store'), agentId: 'bench', logger });
await store.start();
const registry = createRegistry({ store, logger });
await registry.ensureDefaultNamespaces();
const server = createApiServer({
  registry,
  tls: { caCertPem: pki.caCertPem, serverCertPem: pki.serverCertPem, serverKeyPem: pki.serverKeyPem },
  adminToken: pki.adminToken,
  host: '127.0.0.1',
  port: 0,
  logger,
});
await server.start();
const agent = new Agent({ ca: pki.caCertPem, keepAlive: true, maxSockets: 1 });

function post(i: number): Promise<number> {
  const body = JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `cm-${i}`, labels: { bench: 'api-write' } },
    data: { index: String(i), payload: 'x'.repeat(200) },
  });
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port(),
        method: 'POST',
        path: '/api/v1/namespaces/default/configmaps',
        agent,
        headers: { Authorization: `Bearer ${pki.adminToken}`, 'Content-Type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 201 ? resolve(performance.now() - started) : reject(new Error(`status ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
for (let i = 0; i < 50; i++) await post(-1 - i); // warm-up (TLS, JIT)
const lat: number[] = [];
const t0 = performance.now();
for (let i = 0; i < count; i++) lat.push(await post(i));
const total = performance.now() - t0;
lat.sort((a, b) => a - b);
console.log(`api write (POST configmap, HTTPS keep-alive, durable ack), n=${count}`);
console.log(`  p50 ${pct(lat, 50).toFixed(2)} ms   p90 ${pct(lat, 90).toFixed(2)} ms   p99 ${pct(lat, 99).toFixed(2)} ms   max ${lat.at(-1)!.toFixed(2)} ms`);
console.log(`  throughput ${(count / (total / 1000)).toFixed(0)} writes/s (one client)`);
console.log(`  goal (DESIGN.md §6): p99 <= 20 ms -> ${pct(lat, 99) <= 20 ? 'met' : 'NOT met'}`);
agent.destroy();
await server.stop();
await store.stop();
await rm(dir, { recursive: true, force: true });
