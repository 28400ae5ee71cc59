// The proxy's rules as data between the renderer and iptables-restore: per
// table, an ordered list of segments (a chain, maybe its declaration, and some
// of its `-A` lines). The order is what the restore receives; a chain's rules
// are all its segments' lines in that order. Pure.
//
// This also enforces what Mesh may write: declarations of and appends to
// chains named MESH-*, nothing else (no policies, no whole-table flushes, no
// rules in chains Mesh doesn't own), and lets the applier send only the chains
// that changed since the last restore (still one atomic batch).
import { Invalid } from '../api/errors.ts';
import { CHAIN_PREFIX } from './chain-names.ts';

export interface RuleSegment {
  chain: string;
  /** Emit `:chain - [0:0]` first (declares it, or flushes it under --noflush). */
  declare: boolean;
  /** Full `-A chain ...` lines. */
  rules: readonly string[];
}

export interface RuleTable {
  name: string;
  segments: RuleSegment[];
}

export type RuleSet = RuleTable[];

/**
 * A chain's rules: its segments' rule lists in order. The renderer hands the
 * same arrays for what did not change, so comparing two states is mostly
 * identity checks even at 10,000 services.
 */
export type ChainRules = readonly (readonly string[])[];

/** table -> chain -> that chain's rules: what the applier remembers between restores. */
export type ChainState = Map<string, Map<string, ChainRules>>;

/** `table/chain` of every chain in a state. */
export function chainKeys(state: ChainState): string[] {
  const out: string[] = [];
  for (const [table, chains] of state) for (const chain of chains.keys()) out.push(chainKey(table, chain));
  return out;
}

export function sameRules(a: ChainRules | undefined, b: ChainRules | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  let i = 0;
  let j = 0;
  let ai = 0;
  let bj = 0;
  // Compare as flat lists of lines: the same rules may be split into segments differently.
  for (;;) {
    while (i < a.length && ai >= a[i]!.length) {
      i++;
      ai = 0;
    }
    while (j < b.length && bj >= b[j]!.length) {
      j++;
      bj = 0;
    }
    if (i === a.length || j === b.length) return i === a.length && j === b.length;
    if (ai === 0 && bj === 0 && a[i] === b[j]) {
      ai = a[i]!.length;
      bj = b[j]!.length;
      continue;
    }
    if (a[i]![ai] !== b[j]![bj]) return false;
    ai++;
    bj++;
  }
}

/** A chain's rules as text (`-A` lines joined). */
export function rulesText(rules: ChainRules | undefined): string {
  return (rules ?? []).flat().join('\n');
}

export const chainKey = (table: string, chain: string) => `${table}/${chain}`;

const CHAIN_NAME = new RegExp(`^${CHAIN_PREFIX}\\S+$`);

export function declaration(chain: string): string {
  return `:${chain} - [0:0]`;
}

export function serializeRuleSet(rules: RuleSet): string {
  const out: string[] = [];
  for (const t of rules) {
    out.push(`*${t.name}`);
    for (const s of t.segments) {
      if (s.declare) out.push(declaration(s.chain));
      for (const r of s.rules) out.push(r);
    }
    out.push('COMMIT');
  }
  return out.join('\n') + '\n';
}

/**
 * Checks the rules and indexes them per chain, in one pass. Throws Invalid,
 * naming the table and chain, for anything Mesh must not write. Rule lists in
 * `checked` were validated before (the renderer reuses them) and are skipped;
 * the ones validated now are added to it.
 */
export function indexRuleSet(rules: RuleSet, checked?: WeakSet<readonly string[]>): ChainState {
  const state: ChainState = new Map();
  for (const t of rules) {
    if (state.has(t.name)) throw new Invalid(`rules: table ${t.name} appears twice`);
    const chains = new Map<string, (readonly string[])[]>();
    state.set(t.name, chains);
    for (const s of t.segments) {
      const bad = (why: string) => new Invalid(`rules: table ${t.name}, chain ${s.chain}: ${why}`);
      let parts = chains.get(s.chain);
      if (s.declare) {
        if (!CHAIN_NAME.test(s.chain)) throw bad(`not a Mesh chain (${CHAIN_PREFIX}*)`);
        if (parts) throw bad('declared twice');
        chains.set(s.chain, (parts = []));
      } else if (!parts) {
        throw bad('gets rules before it is declared');
      }
      if (s.rules.length === 0) continue;
      parts.push(s.rules);
      if (checked?.has(s.rules)) continue;
      const head = `-A ${s.chain} `;
      for (const r of s.rules) {
        if (!r.startsWith(head) || r.includes('\n')) throw bad(`not a rule of that chain: ${r.slice(0, 80)}`);
      }
      checked?.add(s.rules);
    }
  }
  return state;
}

/** Throws Invalid for anything Mesh must not write (see indexRuleSet). */
export function validateRuleSet(rules: RuleSet): void {
  indexRuleSet(rules);
}

/** Reads iptables-restore input back into segments (one per run of lines of a chain); Invalid names the line. */
export function parseRestoreText(text: string): RuleSet {
  const out: RuleSet = [];
  let table: RuleTable | undefined;
  let seg: { chain: string; declare: boolean; rules: string[] } | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '' || line.startsWith('#')) continue;
    const where = `rules line ${i + 1}`;
    if (line.startsWith('*')) {
      if (table) throw new Invalid(`${where}: table ${line.slice(1)} starts before COMMIT of ${table.name}`);
      table = { name: line.slice(1).trim(), segments: [] };
      seg = undefined;
      continue;
    }
    if (!table) throw new Invalid(`${where}: outside a table`);
    if (line === 'COMMIT') {
      out.push(table);
      table = undefined;
      continue;
    }
    if (line.startsWith(':')) {
      const m = /^:(\S+) - \[0:0\]$/.exec(line);
      if (!m) throw new Invalid(`${where}: a Mesh chain is declared as ':NAME - [0:0]', got: ${line.slice(0, 80)}`);
      seg = { chain: m[1]!, declare: true, rules: [] };
      table.segments.push(seg);
      continue;
    }
    if (!line.startsWith('-A ')) throw new Invalid(`${where}: only chain declarations and -A rules are allowed, got: ${line.slice(0, 80)}`);
    const sp = line.indexOf(' ', 3);
    const chain = line.slice(3, sp < 0 ? undefined : sp);
    if (!seg || seg.chain !== chain) {
      seg = { chain, declare: false, rules: [] };
      table.segments.push(seg);
    }
    seg.rules.push(line);
  }
  if (table) throw new Invalid(`rules: table ${table.name} has no COMMIT`);
  validateRuleSet(out);
  return out;
}

export interface RestorePlan {
  /** What to feed iptables-restore --noflush; '' when nothing changed. */
  text: string;
  /** `table/chain` of every chain sent (declared and filled). */
  changed: string[];
  /** `table/chain` of every chain deleted. */
  removed: string[];
}

function tableOfKey(key: string): string {
  return key.slice(0, key.indexOf('/'));
}

function emitTable(out: string[], t: RuleTable | undefined, name: string, removed: readonly string[], keep?: ReadonlySet<string>): void {
  const head: string[] = [];
  const tail: string[] = [];
  for (const key of removed) {
    if (tableOfKey(key) !== name) continue;
    const chain = key.slice(name.length + 1);
    // Flushed first and deleted last: whatever jumped to it is rewritten in between.
    head.push(declaration(chain));
    tail.push(`-X ${chain}`);
  }
  const body: string[] = [];
  for (const s of t?.segments ?? []) {
    if (keep && !keep.has(s.chain)) continue;
    if (s.declare) body.push(declaration(s.chain));
    for (const r of s.rules) body.push(r);
  }
  if (keep && head.length === 0 && body.length === 0) return;
  out.push(`*${name}`, ...head, ...body, ...tail, 'COMMIT');
}

function tablesOf(rules: RuleSet, removed: readonly string[]): string[] {
  return [...new Set([...rules.map((t) => t.name), ...removed.map(tableOfKey)])];
}

/** Everything, plus deletion of the `stale` chains (`table/chain`) the rules no longer declare. */
export function planFullRestore(rules: RuleSet, next: ChainState, stale: Iterable<string> = []): RestorePlan {
  const removed = [...new Set(stale)].filter((k) => !next.get(tableOfKey(k))?.has(k.slice(k.indexOf('/') + 1))).sort();
  const out: string[] = [];
  for (const name of tablesOf(rules, removed)) emitTable(out, rules.find((t) => t.name === name), name, removed);
  return { text: out.join('\n') + '\n', changed: chainKeys(next), removed };
}

/** Only the chains whose rules differ from `last`, and deletion of the ones that went away. */
export function planIncrementalRestore(rules: RuleSet, next: ChainState, last: ChainState): RestorePlan {
  const changed: string[] = [];
  const removed: string[] = [];
  const keepByTable = new Map<string, Set<string>>();
  for (const [table, chains] of next) {
    const before = last.get(table);
    const keep = new Set<string>();
    for (const [chain, r] of chains) if (!sameRules(before?.get(chain), r)) keep.add(chain);
    for (const chain of before?.keys() ?? []) if (!chains.has(chain)) removed.push(chainKey(table, chain));
    for (const chain of keep) changed.push(chainKey(table, chain));
    keepByTable.set(table, keep);
  }
  for (const [table, chains] of last) if (!next.has(table)) for (const chain of chains.keys()) removed.push(chainKey(table, chain));
  removed.sort();
  if (changed.length === 0 && removed.length === 0) return { text: '', changed, removed };
  const out: string[] = [];
  for (const name of tablesOf(rules, removed)) emitTable(out, rules.find((t) => t.name === name), name, removed, keepByTable.get(name) ?? new Set());
  return { text: out.join('\n') + '\n', changed, removed };
}
