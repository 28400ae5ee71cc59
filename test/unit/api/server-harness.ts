// Starts a real HTTPS API server on an ephemeral loopback port for tests.
import { request } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryStore } from '../../../src/agent/store/memory-store.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createRegistry, type Registry } from '../../../src/agent/api/registry.ts';
import { createApiServer, type ApiServer } from '../../../src/agent/api/server.ts';
import { ensurePki, type Pki } from '../../../src/agent/api/pki.ts';
import type { PodLogSource } from '../../../src/agent/kubelet/log-source.ts';

export interface Harness {
  server: ApiServer;
  registry: Registry;
  pki: Pki;
  dir: string;
  close(): Promise<void>;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export async function startHarness(opts: { logSource?: PodLogSource; historyLimit?: number } = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-api-test-'));
  const pki = await ensurePki(join(dir, 'pki'));
  const store = createMemoryStore({ historyLimit: opts.historyLimit });
  await store.start();
  const registry = createRegistry({ store, logger: silentLogger() });
  await registry.ensureDefaultNamespaces();
  const server = createApiServer({
    registry,
    tls: { caCertPem: pki.caCertPem, serverCertPem: pki.serverCertPem, serverKeyPem: pki.serverKeyPem },
    adminToken: pki.adminToken,
    host: '127.0.0.1',
    port: 0,
    logger: silentLogger(),
    logSource: opts.logSource,
  });
  await server.start();
  return {
    server,
    registry,
    pki,
    dir,
    async close() {
      await server.stop();
      await store.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  /** Raw body text (sent as is). */
  raw?: string;
  headers?: Record<string, string>;
  auth?: 'token' | 'cert' | 'none';
}

export function call(h: Harness, path: string, o: CallOptions = {}): Promise<Reply> {
  const auth = o.auth ?? 'token';
  const headers: Record<string, string> = { Accept: 'application/json', ...o.headers };
  if (auth === 'token') headers.Authorization = `Bearer ${h.pki.adminToken}`;
  let payload: string | undefined = o.raw;
  if (o.body !== undefined) {
    payload = JSON.stringify(o.body);
    headers['Content-Type'] ??= 'application/json';
  }
  // Node's client frames DELETE bodies only with an explicit length.
  if (payload !== undefined) headers['Content-Length'] = String(Buffer.byteLength(payload));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: h.server.port(),
        path,
        method: o.method ?? 'GET',
        headers,
        ca: h.pki.caCertPem,
        servername: 'localhost',
        ...(auth === 'cert' ? { cert: h.pki.adminCertPem, key: h.pki.adminKeyPem } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export interface WatchHandle {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Resolves with the next `n` events received (waits for them). */
  next(n: number, timeoutMs?: number): Promise<any[]>;
  ended: Promise<void>;
  close(): void;
}

/** Opens a watch and resolves once the response headers arrive. */
export function openWatch(h: Harness, path: string, headers: Record<string, string> = {}): Promise<WatchHandle> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: h.server.port(),
        path,
        headers: { Authorization: `Bearer ${h.pki.adminToken}`, Accept: 'application/json', ...headers },
        ca: h.pki.caCertPem,
        servername: 'localhost',
      },
      (res) => {
        const events: any[] = [];
        const waiters: (() => void)[] = [];
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.trim()) events.push(JSON.parse(line));
          }
          for (const w of waiters.splice(0)) w();
        });
        const ended = new Promise<void>((r) => res.on('end', () => r()));
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          ended,
          close: () => req.destroy(),
          next(n, timeoutMs = 3000) {
            return new Promise((res2, rej2) => {
              const deadline = setTimeout(() => rej2(new Error(`timed out waiting for ${n} events; have ${events.length}: ${JSON.stringify(events.map((e) => e.type))}`)), timeoutMs);
              const check = () => {
                if (events.length >= n) {
                  clearTimeout(deadline);
                  res2(events.splice(0, n));
                } else waiters.push(check);
              };
              check();
            });
          },
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
