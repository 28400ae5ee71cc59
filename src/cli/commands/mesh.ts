// `mesh status` (the peers this agent sees) and `mesh leave` (take this
// machine out of its cluster cleanly).
import type { Command } from 'commander';
import type { LeaveResult, MeshStatus } from '../../agent/mesh-status.ts';
import { humanDuration } from '../../agent/api/format-duration.ts';
import { formatColumns } from '../table-printer.ts';
import type { CliContext, GlobalOptions } from '../cli-context.ts';

/** `/ip4/10.0.0.1/tcp/7946/p2p/...` as `10.0.0.1:7946`; anything else as it is. */
export function shortAddress(multiaddr: string): string {
  const m = /^\/ip[46]\/([^/]+)\/tcp\/(\d+)/.exec(multiaddr);
  if (!m) return multiaddr;
  return m[1]!.includes(':') ? `[${m[1]}]:${m[2]}` : `${m[1]}:${m[2]}`;
}

const LEADER_ONLY_WORK = 'scheduling, controllers, allocation, eviction, secrets';

function raftRole(s: MeshStatus, node: string): string {
  const r = s.raft;
  const kind = r.voters.includes(node) ? 'voter' : r.learners.includes(node) ? 'learner' : 'member';
  return r.leader === node ? `${kind}, leader` : kind;
}

/** The Raft lines: who leads, who votes, and whether leader-only work runs. */
export function raftLines(s: MeshStatus): string[] {
  const r = s.raft;
  const list = (xs: string[]) => (xs.length ? [...xs].sort().join(', ') : '-');
  const work = r.quorum
    ? `running on ${r.leader === s.nodeName ? `${r.leader} (this agent)` : r.leader}`
    : `PAUSED: no Raft quorum (no leader answering); the API still serves reads and writes`;
  return [
    `Raft: term ${r.term}, leader ${r.leader ?? '<none>'}; voters ${list(r.voters)}; learners ${list(r.learners)}; ` +
      `this agent: ${r.role} (${r.membership}), applied ${r.applied}/${r.commit}`,
    `Leader-only work (${LEADER_ONLY_WORK}): ${work}`,
  ];
}

export function statusLines(s: MeshStatus, now = Date.now()): string[] {
  const rows = [...s.members]
    .sort((a, b) => a.nodeName.localeCompare(b.nodeName))
    .map((m) => [
      m.self ? `${m.nodeName} (this agent)` : m.nodeName,
      m.status,
      raftRole(s, m.nodeName),
      m.addresses[0] ? shortAddress(m.addresses[0]) : '<none>',
      m.self ? '-' : m.lastContact ? `${humanDuration(Math.max(0, now - Date.parse(m.lastContact)))} ago` : 'never',
      m.self ? '-' : String(m.behind),
      m.peerId,
    ]);
  return [
    `Cluster ${s.clusterName}: ${s.members.length} member(s); this agent knows ${s.knownChanges} change(s)`,
    ...raftLines(s),
    ...formatColumns(['NODE', 'STATUS', 'RAFT', 'ADDRESS', 'LAST CONTACT', 'BEHIND', 'PEER ID'], rows),
  ];
}

export function registerMesh(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description("Show this agent's peers: address, health, last contact and how far behind their state is")
    .option('-o, --output <format>', 'json for the raw status')
    .action(async (opts: { output?: string }, cmd: Command) => {
      const client = await ctx.client(cmd.optsWithGlobals<GlobalOptions>());
      const status = await client.request<MeshStatus>('GET', '/mesh/v1/status');
      if (opts.output === 'json') ctx.out(JSON.stringify(status, null, 2));
      else for (const line of statusLines(status)) ctx.out(line);
    });

  program
    .command('leave')
    .description('Take this machine out of its cluster: stop its pods, remove its Node and stop the agent')
    .action(async (_opts: unknown, cmd: Command) => {
      const client = await ctx.client(cmd.optsWithGlobals<GlobalOptions>());
      ctx.err('leaving the cluster: stopping this node\'s pods and removing its Node (this waits for graceful shutdown)...');
      const r = await client.request<LeaveResult>('POST', '/mesh/v1/leave');
      ctx.out(`node "${r.nodeName}" left the cluster (${r.podsDeleted} pod(s) stopped)`);
    });
}
