// What one single-server membership change does to a configuration, exactly
// as the core replays it (a change that does not apply is a no-op, so every
// member replays the log alike). The driver replays changes as they are
// applied, to know the configuration at the applied index.
import type { ConfChange, ConfState, NodeId } from './raft-types.ts';

export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const copy = (): ConfState => ({ voters: [...conf.voters], learners: [...conf.learners] });
  const voters = conf.voters.filter((v) => v !== change.node);
  const learners = conf.learners.filter((l) => l !== change.node);
  switch (change.type) {
    case 'add-learner':
      if (conf.voters.includes(change.node) || conf.learners.includes(change.node)) return copy();
      return { voters: [...conf.voters], learners: [...conf.learners, change.node] };
    case 'promote':
      if (!conf.learners.includes(change.node)) return copy();
      return { voters: [...voters, change.node], learners };
    case 'remove':
      if (!conf.voters.includes(change.node) && !conf.learners.includes(change.node)) return copy();
      return { voters, learners };
  }
}

/**
 * The changes that build `conf` from an empty configuration, in a fixed order
 * (names sorted): voters are added as learners and promoted, then learners
 * are added.
 */
export function confChangesFor(conf: ConfState): ConfChange[] {
  const sorted = (ns: NodeId[]) => [...new Set(ns)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const voters = sorted(conf.voters);
  const out: ConfChange[] = [];
  for (const v of voters) out.push({ type: 'add-learner', node: v }, { type: 'promote', node: v });
  for (const l of sorted(conf.learners)) if (!voters.includes(l)) out.push({ type: 'add-learner', node: l });
  return out;
}
