// Reads a kubeconfig: which server, which CA, which credentials, which namespace.
// Parsing is pure; loadKubeconfig adds the file reads (the file itself and any
// certificate paths it references).
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { CliError } from './cli-error.ts';

export interface ClientConfig {
  contextName: string;
  server: string;
  /** PEM bytes of the CA that signed the server certificate. */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  insecureSkipTlsVerify: boolean;
  /** The context's namespace, or `default`. */
  namespace: string;
}

/** A path named by a kubeconfig (`certificate-authority: ca.crt`), resolved later. */
export interface FileRefs {
  ca?: string;
  cert?: string;
  key?: string;
  tokenFile?: string;
}

interface Named<T> {
  name?: unknown;
  [k: string]: unknown;
  value?: T;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function b64(v: unknown): Buffer | undefined {
  const s = str(v);
  return s === undefined ? undefined : Buffer.from(s, 'base64');
}

function findNamed(list: unknown, name: string, field: string): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined;
  const entry = (list as Named<unknown>[]).find((e) => e && typeof e === 'object' && e.name === name);
  const inner = entry?.[field];
  return inner && typeof inner === 'object' ? (inner as Record<string, unknown>) : undefined;
}

/** Pure: the kubeconfig text to a client config plus the files it still needs read. */
export function parseKubeconfig(text: string, opts: { context?: string; source?: string } = {}): { config: ClientConfig; files: FileRefs } {
  const where = opts.source ?? 'kubeconfig';
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new CliError(`${where}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object') throw new CliError(`${where}: not a kubeconfig (expected a mapping)`);
  const kc = doc as Record<string, unknown>;
  const contextName = opts.context ?? str(kc['current-context']);
  if (!contextName) throw new CliError(`${where}: no current-context is set; pass --context`);
  const ctx = findNamed(kc.contexts, contextName, 'context');
  if (!ctx) throw new CliError(`${where}: context "${contextName}" not found`);
  const clusterName = str(ctx.cluster);
  const cluster = clusterName ? findNamed(kc.clusters, clusterName, 'cluster') : undefined;
  if (!cluster) throw new CliError(`${where}: cluster "${clusterName ?? ''}" of context "${contextName}" not found`);
  const server = str(cluster.server);
  if (!server) throw new CliError(`${where}: cluster "${clusterName}" has no server`);
  const userName = str(ctx.user);
  const user = userName ? (findNamed(kc.users, userName, 'user') ?? {}) : {};
  const config: ClientConfig = {
    contextName,
    server: server.replace(/\/+$/, ''),
    ca: b64(cluster['certificate-authority-data']),
    cert: b64(user['client-certificate-data']),
    key: b64(user['client-key-data']),
    token: str(user.token),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    namespace: str(ctx.namespace) ?? 'default',
  };
  const files: FileRefs = {
    ca: config.ca ? undefined : str(cluster['certificate-authority']),
    cert: config.cert ? undefined : str(user['client-certificate']),
    key: config.key ? undefined : str(user['client-key']),
    tokenFile: config.token ? undefined : str(user.tokenFile),
  };
  return { config, files };
}

/** Which kubeconfig to use: the flag, else $KUBECONFIG (first entry), else the local agent's admin kubeconfig. */
export function kubeconfigPath(opts: { flag?: string; env?: string; localAdmin: string }): string {
  if (opts.flag) return opts.flag;
  const first = opts.env?.split(':').find((p) => p !== '');
  return first ?? opts.localAdmin;
}

export async function loadKubeconfig(path: string, context?: string): Promise<ClientConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new CliError(`kubeconfig ${path} not found: start an agent with "mesh init", or pass --kubeconfig`);
    }
    if (code === 'EACCES') throw new CliError(`kubeconfig ${path} is not readable (permission denied)`);
    throw new CliError(`cannot read kubeconfig ${path}: ${(err as Error).message}`);
  }
  const { config, files } = parseKubeconfig(text, { context, source: path });
  const base = dirname(path);
  const read = async (p: string) => {
    const full = isAbsolute(p) ? p : resolve(base, p);
    try {
      return await readFile(full);
    } catch (err) {
      throw new CliError(`kubeconfig ${path}: cannot read ${full}: ${(err as Error).message}`);
    }
  };
  if (files.ca) config.ca = await read(files.ca);
  if (files.cert) config.cert = await read(files.cert);
  if (files.key) config.key = await read(files.key);
  if (files.tokenFile) config.token = (await read(files.tokenFile)).toString('utf8').trim();
  return config;
}
