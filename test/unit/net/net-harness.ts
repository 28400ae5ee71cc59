// Shared pieces of the net tests: real libp2p hosts on 127.0.0.1 with port 0,
// temp data directories, and bounded waiting. Every host and directory made here
// is released by cleanup().
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createMeshHost, type MeshHost } from '../../../src/net/mesh-host.ts';

export interface Harness {
  tempDir(): Promise<string>;
  host(psk: Uint8Array, dataDir?: string, port?: number): Promise<MeshHost>;
  track<T extends { stop(): Promise<void> }>(thing: T): T;
  cleanup(): Promise<void>;
}

export function newPsk(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

export function createHarness(): Harness {
  const dirs: string[] = [];
  const stoppables: { stop(): Promise<void> }[] = [];
  const h: Harness = {
    async tempDir() {
      const d = await mkdtemp(join(tmpdir(), 'mesh-net-'));
      dirs.push(d);
      return d;
    },
    async host(psk, dataDir, port = 0) {
      const host = await createMeshHost({
        dataDir: dataDir ?? (await h.tempDir()),
        listenAddress: '127.0.0.1',
        port,
        psk,
        logger: silentLogger(),
      });
      return h.track(host);
    },
    track(thing) {
      stoppables.push(thing);
      return thing;
    },
    async cleanup() {
      // Stopping twice is harmless; stop in reverse so membership goes before its host.
      for (const s of stoppables.splice(0).reverse()) await s.stop().catch(() => undefined);
      for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
    },
  };
  return h;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls cond every 25 ms until it holds or timeoutMs passes; returns whether it held. */
export async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await sleep(25);
  }
  return cond();
}
