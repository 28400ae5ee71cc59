// Puts rendered rules into the kernel. Every change is one `iptables-restore
// --noflush` (atomic per table) that touches only Mesh's chains: it declares
// (so flushes) and fills MESH-* chains and deletes the ones that went away.
// After the first sync only the chains whose rules changed are sent, which is
// what makes one endpoint change cheap at 10,000 services; a full sync is done
// on the first apply, after a failure and when asked (the proxy does it
// periodically, in case someone flushed our chains).
//
// ensureJumps() adds the one rule per built-in chain that leads into Mesh's
// chains (each tagged `-m comment --comment mesh`) and the route for the
// service range; cleanup() takes all of it away again (`mesh leave`, tests).
import { performance } from 'node:perf_hooks';
import type { Logger } from '../logger.ts';
import { createHostExec, mustExec, type HostExec } from '../host-exec.ts';
import {
  CHAIN_PREFIX,
  EXTERNAL_SERVICES_CHAIN,
  FORWARD_CHAIN,
  PER_SERVICE_CHAIN,
  POSTROUTING_CHAIN,
  SERVICES_CHAIN,
} from './chain-names.ts';
import { DEFAULT_SERVICE_CIDR } from './service-model.ts';
import {
  chainKey,
  chainKeys,
  indexRuleSet,
  parseRestoreText,
  planFullRestore,
  planIncrementalRestore,
  type ChainState,
  type RestorePlan,
  type RuleSet,
} from './restore-text.ts';

export const JUMP_COMMENT = 'mesh';

export interface BuiltinJumps {
  table: 'nat' | 'filter';
  chain: string;
  /** Rule specs (without `-A chain`), in the order they must head the chain. */
  rules: string[];
}

const NEW = '-m conntrack --ctstate NEW';
const tag = `-m comment --comment ${JUMP_COMMENT}`;

/** The jumps into Mesh's chains, as iptables-save prints them (so they compare as text). */
export const MESH_JUMPS: readonly BuiltinJumps[] = [
  { table: 'nat', chain: 'PREROUTING', rules: [`${tag} -j ${SERVICES_CHAIN}`] },
  { table: 'nat', chain: 'OUTPUT', rules: [`${tag} -j ${SERVICES_CHAIN}`] },
  { table: 'nat', chain: 'POSTROUTING', rules: [`${tag} -j ${POSTROUTING_CHAIN}`] },
  // Refusals (no endpoints) come before MESH-FORWARD's accepts.
  { table: 'filter', chain: 'FORWARD', rules: [`${NEW} ${tag} -j ${SERVICES_CHAIN}`, `${NEW} ${tag} -j ${EXTERNAL_SERVICES_CHAIN}`, `${tag} -j ${FORWARD_CHAIN}`] },
  { table: 'filter', chain: 'OUTPUT', rules: [`${NEW} ${tag} -j ${SERVICES_CHAIN}`] },
  { table: 'filter', chain: 'INPUT', rules: [`${NEW} ${tag} -j ${SERVICES_CHAIN}`, `${NEW} ${tag} -j ${EXTERNAL_SERVICES_CHAIN}`] },
];

export type ApplyMode = 'full' | 'incremental' | 'unchanged';
export type ServiceCidrRoute = 'blackhole' | 'local' | 'none';

export interface ApplyResult {
  mode: ApplyMode;
  /** Chains declared and filled by this restore. */
  changedChains: number;
  /** Chains deleted by it. */
  removedChains: number;
  /** Size of the restore input. */
  bytes: number;
  /** From the call to the restore's exit (including the diff). */
  durationMs: number;
}

export interface IptablesApplierOptions {
  logger: Logger;
  /** Runs iptables-restore, iptables, iptables-save and ip; tests wrap it in `ip netns exec`. */
  exec?: HostExec;
  /** The service range, routed by ensureJumps() (default 10.96.0.0/16). */
  serviceCidr?: string;
  /**
   * How ensureJumps() routes the service range (default blackhole, DESIGN.md §4):
   * - `blackhole`: a packet no rule translated is dropped. The kernel routes a
   *   local socket's packet before the nat OUTPUT chain, so the node's own
   *   processes can't reach ClusterIPs (connect: EINVAL), and a pod's packet to
   *   a service without endpoints is dropped before filter FORWARD's REJECT.
   * - `local` (as kube-proxy's IPVS mode does with its dummy device): the range
   *   is local, so the node's processes reach ClusterIPs, and what no rule
   *   translated ends in filter INPUT/OUTPUT at MESH-SERVICES's REJECT: a fast
   *   refusal for pods and the node, and nothing leaves the node.
   * - `none`: leave routing alone.
   */
  serviceCidrRoute?: ServiceCidrRoute;
  /** Chains a first (or forced) full sync deletes when the rules no longer declare them. */
  ownedChain?: (name: string) => boolean;
}

export interface IptablesApplier {
  /**
   * Applies renderRules() text (or renderRuleSet() segments, which skips
   * parsing); incremental unless it is the first apply, one after a failure,
   * or `full`. Invalid if the rules name a chain that isn't Mesh's.
   */
  apply(rules: string | RuleSet, opts?: { full?: boolean }): Promise<ApplyResult>;
  /** Idempotent: the jumps from the built-in chains (at their top) and the service-range route. */
  ensureJumps(): Promise<void>;
  /** Removes the jumps, every MESH-* chain in nat and filter, and the service-range route. */
  cleanup(): Promise<void>;
  /** Forgets what was applied, so the next apply is a full one. */
  reset(): void;
}

const RESTORE_ARGS = ['-w', '5', '--noflush'];

function ruleLines(saved: string, chain: string): string[] {
  const head = `-A ${chain} `;
  return saved.split('\n').filter((l) => l.startsWith(head));
}

function isMeshJump(line: string): boolean {
  return line.includes(` ${tag} `) && / -[jg] MESH-/.test(line);
}

/** Restore lines (`-D`/`-I`) that make the chain start with exactly `want`; none when it already does. */
export function planJumpFix(savedChain: string, j: BuiltinJumps): string[] {
  const lines = ruleLines(savedChain, j.chain);
  const want = j.rules.map((r) => `-A ${j.chain} ${r}`);
  const ours = lines.filter(isMeshJump);
  const inPlace = ours.length === want.length && want.every((w, i) => lines[i] === w);
  if (inPlace) return [];
  const out = ours.map((l) => `-D ${l.slice(3)}`);
  for (let i = j.rules.length - 1; i >= 0; i--) out.push(`-I ${j.chain} 1 ${j.rules[i]}`);
  return out;
}

/** Restore input that removes every jump into MESH-* chains and the chains themselves, from one table's iptables-save. */
export function planCleanup(saved: string, table: string): string {
  const chains: string[] = [];
  const jumps: string[] = [];
  for (const line of saved.split('\n')) {
    if (line.startsWith(':')) {
      const name = line.slice(1, line.indexOf(' '));
      if (name.startsWith(CHAIN_PREFIX)) chains.push(name);
    } else if (line.startsWith('-A ')) {
      const chain = line.slice(3, line.indexOf(' ', 3));
      if (!chain.startsWith(CHAIN_PREFIX) && / -[jg] MESH-/.test(line)) jumps.push(`-D ${line.slice(3)}`);
    }
  }
  if (chains.length === 0 && jumps.length === 0) return '';
  return [`*${table}`, ...jumps, ...chains.map((c) => `:${c} - [0:0]`), ...chains.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
}

export function createIptablesApplier(opts: IptablesApplierOptions): IptablesApplier {
  const log = opts.logger.child({ component: 'iptables-applier' });
  const exec = opts.exec ?? createHostExec();
  const serviceCidr = opts.serviceCidr ?? DEFAULT_SERVICE_CIDR;
  const routeMode = opts.serviceCidrRoute ?? 'blackhole';
  const owned = opts.ownedChain ?? ((name: string) => PER_SERVICE_CHAIN.test(name));
  let last: ChainState | undefined;
  // Rule lists the renderer hands again unchanged need no second check.
  const checked = new WeakSet<readonly string[]>();
  // One restore at a time, in call order.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  async function restore(text: string): Promise<void> {
    await mustExec(exec, 'iptables-restore', RESTORE_ARGS, text);
  }

  /** Per-service chains already in the kernel (a previous agent's), for the first full sync. */
  async function ownedChainsInKernel(tables: Iterable<string>): Promise<string[]> {
    const found: string[] = [];
    for (const table of tables) {
      const saved = await mustExec(exec, 'iptables-save', ['-t', table]);
      for (const line of saved.split('\n')) {
        if (!line.startsWith(':')) continue;
        const name = line.slice(1, line.indexOf(' '));
        if (owned(name)) found.push(chainKey(table, name));
      }
    }
    return found;
  }

  async function applyNow(rules: string | RuleSet, full: boolean): Promise<ApplyResult> {
    const started = performance.now();
    const parsed = typeof rules === 'string' ? parseRestoreText(rules) : rules;
    const next = indexRuleSet(parsed, checked);
    let plan: RestorePlan;
    let mode: ApplyMode;
    if (last && !full) {
      plan = planIncrementalRestore(parsed, next, last);
      mode = plan.text === '' ? 'unchanged' : 'incremental';
    } else {
      const stale = last ? chainKeys(last) : await ownedChainsInKernel(parsed.map((t) => t.name));
      plan = planFullRestore(parsed, next, stale);
      mode = 'full';
    }
    if (plan.text !== '') {
      try {
        await restore(plan.text);
      } catch (err) {
        // The kernel may hold any mix now: the next apply must send everything.
        last = undefined;
        throw err;
      }
    }
    last = next;
    const result: ApplyResult = {
      mode,
      changedChains: plan.changed.length,
      removedChains: plan.removed.length,
      bytes: Buffer.byteLength(plan.text),
      durationMs: performance.now() - started,
    };
    log.debug(result, 'rules applied');
    return result;
  }

  async function ensureChain(table: string, chain: string): Promise<void> {
    const r = await exec('iptables', ['-w', '5', '-t', table, '-N', chain]);
    if (r.code !== 0 && !/already exists/i.test(r.stderr)) {
      throw new Error(`iptables -t ${table} -N ${chain} failed (exit ${r.code}): ${r.stderr.trim()}`);
    }
  }

  async function ensureJumpsNow(): Promise<void> {
    const byTable = new Map<string, string[]>();
    const targets = new Set(MESH_JUMPS.flatMap((j) => j.rules.map((r) => `${j.table} ${r.slice(r.lastIndexOf('-j ') + 3)}`)));
    for (const t of targets) {
      const [table, chain] = t.split(' ') as [string, string];
      await ensureChain(table, chain);
    }
    for (const j of MESH_JUMPS) {
      const saved = await mustExec(exec, 'iptables', ['-w', '5', '-t', j.table, '-S', j.chain]);
      const fix = planJumpFix(saved, j);
      if (fix.length > 0) byTable.set(j.table, [...(byTable.get(j.table) ?? []), ...fix]);
    }
    for (const [table, lines] of byTable) {
      await restore([`*${table}`, ...lines, 'COMMIT', ''].join('\n'));
      log.info({ table, changes: lines.length }, 'jumps into mesh chains set');
    }
    await ensureRoute();
  }

  const ROUTES = {
    blackhole: { show: ['route', 'show', 'type', 'blackhole', serviceCidr], add: ['route', 'replace', 'blackhole', serviceCidr], del: ['route', 'del', 'blackhole', serviceCidr] },
    local: {
      show: ['route', 'show', 'table', 'local', 'type', 'local', serviceCidr],
      add: ['route', 'replace', 'local', serviceCidr, 'dev', 'lo', 'table', 'local'],
      del: ['route', 'del', 'local', serviceCidr, 'dev', 'lo', 'table', 'local'],
    },
  } as const;

  async function removeRoute(kind: keyof typeof ROUTES): Promise<void> {
    const shown = await exec('ip', [...ROUTES[kind].show]);
    // A namespace with no local address has no local table yet: nothing to remove.
    if (shown.code !== 0 && /table does not exist/i.test(shown.stderr)) return;
    if (shown.code !== 0) throw new Error(`ip ${ROUTES[kind].show.join(' ')} failed (exit ${shown.code}): ${shown.stderr.trim()}`);
    if (shown.stdout.trim() !== '') await mustExec(exec, 'ip', [...ROUTES[kind].del]);
  }

  async function ensureRoute(): Promise<void> {
    if (routeMode === 'none') return;
    await mustExec(exec, 'ip', [...ROUTES[routeMode].add]);
    await removeRoute(routeMode === 'blackhole' ? 'local' : 'blackhole');
  }

  async function cleanupNow(): Promise<void> {
    for (const table of ['nat', 'filter']) {
      const saved = await mustExec(exec, 'iptables-save', ['-t', table]);
      const text = planCleanup(saved, table);
      if (text) await restore(text);
    }
    if (routeMode !== 'none') {
      await removeRoute('blackhole');
      await removeRoute('local');
    }
    last = undefined;
    log.info('mesh chains, jumps and the service-range route removed');
  }

  return {
    apply: (text, o) => serial(() => applyNow(text, o?.full === true)),
    ensureJumps: () => serial(ensureJumpsNow),
    cleanup: () => serial(cleanupNow),
    reset() {
      last = undefined;
    },
  };
}
