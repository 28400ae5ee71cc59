// What every command gets: where to write, the global flags, and a lazily
// created API client (commands that never talk to the API never need a kubeconfig).
import { DEFAULT_DATA_DIR, dataPaths } from '../agent/config.ts';
import { createApiClient, type ApiClient } from './client.ts';
import { kubeconfigPath, loadKubeconfig } from './kubeconfig.ts';

export interface TextSink {
  write(chunk: string | Uint8Array): unknown;
}

export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  /** Reads all of stdin (`apply -f -`); process stdin when absent. */
  readStdin?: () => Promise<string>;
  /** Aborts long-running commands (watch, logs -f, delete --wait, init/agent). */
  signal?: AbortSignal;
  /** Environment (KUBECONFIG, MESH_DATA_DIR); process.env when absent. */
  env?: Record<string, string | undefined>;
}

export interface GlobalOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  dataDir?: string;
}

export interface CliContext {
  io: CliIo;
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
  /** Data directory of the local agent (flag, $MESH_DATA_DIR, /var/lib/mesh). */
  dataDir(globals: GlobalOptions): string;
  client(globals: GlobalOptions): Promise<ApiClient>;
  /** The namespace to use and whether the user chose it with -n. */
  namespace(globals: GlobalOptions): Promise<{ namespace: string; fromFlag: boolean }>;
}

export function createCliContext(io: CliIo): CliContext {
  const env = io.env ?? process.env;
  let cached: { key: string; client: Promise<ApiClient> } | undefined;
  const ctx: CliContext = {
    io,
    env,
    out: (line) => void io.stdout.write(line + '\n'),
    err: (line) => void io.stderr.write(line + '\n'),
    dataDir: (g) => g.dataDir ?? env.MESH_DATA_DIR ?? DEFAULT_DATA_DIR,
    client(g) {
      const path = kubeconfigPath({ flag: g.kubeconfig, env: env.KUBECONFIG, localAdmin: dataPaths(ctx.dataDir(g)).adminKubeconfig });
      const key = `${path}\0${g.context ?? ''}`;
      if (!cached || cached.key !== key) {
        cached = { key, client: loadKubeconfig(path, g.context).then(createApiClient) };
      }
      return cached.client;
    },
    async namespace(g) {
      if (g.namespace) return { namespace: g.namespace, fromFlag: true };
      return { namespace: (await ctx.client(g)).namespace, fromFlag: false };
    },
  };
  return ctx;
}

/** Resolves after `ms`, or early (false) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
