// Store benchmark: `node bench/store.bench.ts`. Prints (a) reopen time with
// 10,000 objects, (b) local write latency p50/p99, (c) rss after load.
// Bounded: fixed object and write counts; runs well under a minute.

import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../src/agent/api/object-types.ts';
import { silentLogger } from '../src/agent/logger.ts';
import { createAutomergeStore, type AutomergeObjectStore } from '../src/agent/store/automerge-store.ts';
import { makePod } from '../test/unit/store/pod-fixture.ts';

const OBJECTS = 10_000;
const SEQUENTIAL_WRITES = 2_000;
const CONCURRENT_WRITES = 4_000;
const CONCURRENCY = 16;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
function summary(label: string, samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  return `${label}: n=${s.length} p50=${pct(s, 50).toFixed(2)} ms p99=${pct(s, 99).toFixed(2)} ms max=${s.at(-1)!.toFixed(2)} ms`;
}
function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}
function out(line: string): void {
  process.stdout.write(line + '\n');
}

async function load(dataDir: string): Promise<void> {
  // Concurrent creates (group-committed) of realistic pods.
  const store = createAutomergeStore({ dataDir, agentId: 'bench', logger: silentLogger() });
  await store.start();
  const t = performance.now();
  for (let i = 0; i < OBJECTS; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, OBJECTS - i) }, (_, j) => store.create('pods', makePod(`pod-${i + j}`, `ns-${(i + j) % 20}`))));
  }
  out(`load: ${OBJECTS} pods created in ${((performance.now() - t) / 1000).toFixed(2)} s (separate process)`);
  await store.stop();
}

if (process.argv[2] === '--load') {
  await load(process.argv[3]!);
  process.exit(0);
}

const dataDir = await mkdtemp(join(tmpdir(), 'mesh-store-bench-'));
const open = async (): Promise<AutomergeObjectStore> => {
  const s = createAutomergeStore({ dataDir, agentId: 'bench', logger: silentLogger() });
  await s.start();
  return s;
};

try {
  // The load runs in a child so this process measures a real restart: it never built those docs.
  const child = spawnSync(process.execPath, [import.meta.filename, '--load', dataDir], { stdio: 'inherit' });
  if (child.status !== 0) throw new Error(`load failed with status ${child.status}`);

  // (a) reopen
  let t = performance.now();
  const store = await open();
  const reopenMs = performance.now() - t;
  out(`(a) reopen with ${store.list('pods').items.length} objects: ${reopenMs.toFixed(0)} ms (goal <= 2000 ms)`);
  out(`(c) rss after reopen: ${mb(process.memoryUsage().rss)} (heap used ${mb(process.memoryUsage().heapUsed)})`);

  // (b) write latency: one writer, each write awaited (durable) before the next; every write touches another object.
  const seq: number[] = [];
  for (let i = 0; i < SEQUENTIAL_WRITES; i++) {
    const cur = store.get('pods', `ns-${i % 20}`, `pod-${i}`)! as KubeObject & { status: { phase: string } };
    const next = { ...cur, status: { ...cur.status, phase: i % 2 ? 'Running' : 'Pending', podIP: `10.244.0.${i % 250}` } };
    const w0 = performance.now();
    await store.update('pods', next);
    seq.push(performance.now() - w0);
  }
  out('(b) ' + summary('sequential update latency (durable)', seq));

  // (b') many writers at once: group commit shares an fsync between them.
  const conc: number[] = [];
  let n = 0;
  const t1 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (n < CONCURRENT_WRITES) {
        const i = n++;
        const w0 = performance.now();
        await store.create('pods', makePod(`extra-${i}`, 'bench'));
        conc.push(performance.now() - w0);
      }
    }),
  );
  const secs = (performance.now() - t1) / 1000;
  out('(b) ' + summary(`create latency, ${CONCURRENCY} concurrent writers`, conc) + ` (${(CONCURRENT_WRITES / secs).toFixed(0)} writes/s)`);
  out(`(c) rss after the writes (${store.list('pods').items.length} objects): ${mb(process.memoryUsage().rss)} (heap used ${mb(process.memoryUsage().heapUsed)})`);
  t = performance.now();
  await store.stop();
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
