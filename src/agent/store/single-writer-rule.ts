// The single-writer rows of DESIGN.md §3 as an authorize hook for remote changes:
// - a Node is created only by that node's own agent, and its `status` is written
//   only by it, except the conditions alone, which the Raft leader's node lifecycle
//   sets to Unknown when the agent stops answering (as Kubernetes' node-lifecycle
//   controller does); users may still label, taint, cordon or delete a Node;
// - a bound pod's `status` is written only by the agent of the node it is bound to
//   (creating or deleting a pod is anyone's; an unbound pod has no single writer,
//   and the change that binds it may set its scheduling condition).
// Everything else is accepted. The hook sees a change's recorded author, so a
// change relayed by anti-entropy through a third agent is judged by who wrote it.

import type { KubeObject } from '../api/object-types.ts';
import { jsonEqual } from './json-equal.ts';
import type { Authorize } from './replication-seam.ts';

/**
 * `nodeNameOf(author)` maps a change's author (the store's agentId) to the Node
 * name that agent runs; undefined for an unknown author. In Mesh the store's
 * agentId is the node name, so the identity function fits.
 */
export function singleWriterRule(nodeNameOf: (author: string) => string | undefined): Authorize {
  const rule: Authorize = (author, before, after, resource) => {
    const writer = author === undefined ? undefined : nodeNameOf(author);
    if (resource === 'nodes') {
      const name = after?.metadata.name ?? before?.metadata.name;
      if (jsonEqual(before, after) || after === undefined) return true;
      const own = writer !== undefined && writer === name;
      if (before === undefined || own) return own;
      const was = (before.status ?? {}) as Record<string, unknown>;
      const now = (after.status ?? {}) as Record<string, unknown>;
      return jsonEqual({ ...was, conditions: undefined }, { ...now, conditions: undefined });
    }
    if (resource === 'pods') {
      if (before === undefined || after === undefined) return true;
      if (jsonEqual(before.status ?? {}, after.status ?? {})) return true;
      const bound = nodeNameOfPod(before);
      if (bound === undefined) {
        const binding = nodeNameOfPod(after);
        if (binding === undefined || writer === binding) return true;
        // The scheduler's binding sets the PodScheduled condition and nothing else of the status.
        const was = (before.status ?? {}) as Record<string, unknown>;
        const now = (after.status ?? {}) as Record<string, unknown>;
        return jsonEqual({ ...was, conditions: undefined }, { ...now, conditions: undefined });
      }
      return writer === bound;
    }
    return true;
  };
  rule.resources = new Set(['nodes', 'pods']);
  return rule;
}

function nodeNameOfPod(pod: KubeObject): string | undefined {
  const spec = pod.spec as { nodeName?: unknown } | undefined;
  return typeof spec?.nodeName === 'string' && spec.nodeName !== '' ? spec.nodeName : undefined;
}
