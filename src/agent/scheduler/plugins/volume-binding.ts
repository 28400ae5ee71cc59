// VolumeBinding: a pod's PersistentVolumeClaims must be usable on the node.
// PreFilter rejects the pod outright when a claim is missing or being deleted,
// or is unbound with no volume that could ever serve it and no provisioner
// (kube's "unbound immediate" claims). Filter, per node: a bound claim's
// volume must allow the node (its node affinity); an unbound claim needs a
// free matching volume the node can reach, or, for local-path claims, a node
// whose kubelet offers a local volume root to provision on.
import { LOCAL_VOLUME_ROOT_ANNOTATION, isLocalPathClaim, type PersistentVolume } from '../../api/persistent-volume-types.ts';
import type { NodeInfo } from '../cluster-snapshot.ts';
import { stateOf, type FilterPlugin } from '../framework.ts';
import type { NodeMatcher } from '../node-selector.ts';
import { candidateVolumes, podClaimNames, pickVolume, volumeNodeMatcher } from '../volume-matching.ts';

export const VOLUME_BINDING = 'VolumeBinding';
export const ERR_VOLUME_NODE_CONFLICT = 'node(s) had volume node affinity conflict';
export const ERR_UNBOUND_IMMEDIATE = 'pod has unbound immediate PersistentVolumeClaims';
export const ERR_NO_VOLUME_TO_BIND = "node(s) didn't find available persistent volumes to bind";
export const ERR_PV_NOT_EXIST = 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)';
export const ERR_NO_LOCAL_VOLUME_ROOT = `node(s) had no local volume root (${LOCAL_VOLUME_ROOT_ANNOTATION}) to provision volumes on`;

export function errClaimNotFound(name: string): string {
  return `persistentvolumeclaim "${name}" not found`;
}

interface UnboundClaim {
  candidates: PersistentVolume[];
  /** Local-path claims may be provisioned when no volume fits. */
  provisionable: boolean;
}

interface State {
  boundMissing: boolean;
  bound: NodeMatcher[];
  unbound: UnboundClaim[];
  matchers: Map<PersistentVolume, NodeMatcher>;
}

function matcherOf(state: State, pv: PersistentVolume): NodeMatcher {
  let m = state.matchers.get(pv);
  if (!m) state.matchers.set(pv, (m = volumeNodeMatcher(pv)));
  return m;
}

function hasLocalRoot(node: NodeInfo): boolean {
  return !!node.node?.metadata.annotations?.[LOCAL_VOLUME_ROOT_ANNOTATION];
}

export function createVolumeBindingPlugin(): FilterPlugin {
  return {
    name: VOLUME_BINDING,
    preFilter(pod, ctx) {
      const names = podClaimNames(pod.pod.spec?.volumes);
      if (names.length === 0) return 'skip';
      const state: State = { boundMissing: false, bound: [], unbound: [], matchers: new Map() };
      for (const name of names) {
        const pvc = ctx.snapshot.claim(pod.namespace, name);
        if (!pvc) return { unschedulable: errClaimNotFound(name) };
        if (pvc.metadata.deletionTimestamp) return { unschedulable: `persistentvolumeclaim "${name}" is being deleted` };
        const volumeName = pvc.spec?.volumeName;
        if (volumeName) {
          const pv = ctx.snapshot.volume(volumeName);
          if (!pv) state.boundMissing = true;
          else state.bound.push(matcherOf(state, pv));
          continue;
        }
        const candidates = candidateVolumes(ctx.snapshot.volumes(), pvc);
        const provisionable = isLocalPathClaim(pvc);
        if (!provisionable && candidates.length === 0) return { unschedulable: ERR_UNBOUND_IMMEDIATE };
        state.unbound.push({ candidates, provisionable });
      }
      ctx.state.set(VOLUME_BINDING, state);
      return undefined;
    },
    filter(_pod, node, ctx) {
      const state = stateOf<State>(ctx, VOLUME_BINDING);
      if (!state) return undefined;
      const reasons: string[] = [];
      if (state.boundMissing) reasons.push(ERR_PV_NOT_EXIST);
      if (state.bound.some((m) => !m(node.labels, node.name))) reasons.push(ERR_VOLUME_NODE_CONFLICT);
      // Two claims of one pod must not count on the same free volume.
      const taken = new Set<string>();
      let noVolume = false;
      let noRoot = false;
      for (const c of state.unbound) {
        const pv = pickVolume(c.candidates, (v) => matcherOf(state, v)(node.labels, node.name), taken);
        if (pv) taken.add(pv.metadata.name ?? '');
        else if (!c.provisionable) noVolume = true;
        else if (!hasLocalRoot(node)) noRoot = true;
      }
      if (noVolume) reasons.push(ERR_NO_VOLUME_TO_BIND);
      if (noRoot) reasons.push(ERR_NO_LOCAL_VOLUME_ROOT);
      return reasons.length ? reasons : undefined;
    },
  };
}
