// The kubelet's own bookkeeping of `nvidia.com/gpu`, as Kubernetes' device
// manager does it: each admitted pod holds specific device IDs until it ends, so
// two pods never share a GPU and a pod that asks for more than is free is
// rejected at admission instead of started.
import type { Container, Pod } from '../api/object-types.ts';
import { GPU_RESOURCE, containerGpuCount } from './container-resources.ts';
import { isSidecar } from './pod-status.ts';

export interface GpuAdmission {
  admit: boolean;
  /** Set when admit is false: Kubernetes' reason and message. */
  reason?: string;
  message?: string;
}

export interface GpuAllocator {
  /** Device IDs known on this node ("0".."N-1", the /dev/nvidiaN index). */
  readonly devices: readonly string[];
  /** Reserves the pod's GPUs (idempotent per pod uid). */
  admit(pod: Pod): GpuAdmission;
  /** Re-registers IDs a pod already holds (after an agent restart). */
  restore(uid: string, ids: string[]): void;
  /** The IDs a given container of an admitted pod gets. */
  idsFor(pod: Pod, containerName: string): string[];
  release(uid: string): void;
  free(): number;
}

/** Containers that run side by side: sidecars (restartable init containers) and app containers. */
function longRunning(pod: Pod): Container[] {
  return [...(pod.spec.initContainers ?? []).filter(isSidecar), ...pod.spec.containers];
}

/**
 * GPUs a pod needs at once: regular init containers run one at a time and hand
 * their devices on, so the need is max(largest init container, sum of the rest).
 */
export function podGpuRequest(pod: Pod): number {
  const init = Math.max(0, ...(pod.spec.initContainers ?? []).filter((c) => !isSidecar(c)).map(containerGpuCount));
  const running = longRunning(pod).reduce((sum, c) => sum + containerGpuCount(c), 0);
  return Math.max(init, running);
}

export function createGpuAllocator(count: number): GpuAllocator {
  const devices = Array.from({ length: Math.max(0, count) }, (_, i) => String(i));
  const held = new Map<string, string[]>();

  function inUse(): Set<string> {
    return new Set([...held.values()].flat());
  }

  return {
    devices,
    admit(pod) {
      const uid = pod.metadata.uid ?? '';
      if (held.has(uid)) return { admit: true };
      const need = podGpuRequest(pod);
      if (need === 0) return { admit: true };
      const used = inUse();
      const available = devices.filter((d) => !used.has(d));
      if (available.length < need) {
        return {
          admit: false,
          reason: 'UnexpectedAdmissionError',
          message: `Allocate failed due to requested number of devices unavailable for ${GPU_RESOURCE}. Requested: ${need}, Available: ${available.length}, which is unexpected`,
        };
      }
      held.set(uid, available.slice(0, need));
      return { admit: true };
    },
    restore(uid, ids) {
      const known = ids.filter((id) => devices.includes(id));
      if (!known.length) return;
      held.set(uid, [...new Set([...(held.get(uid) ?? []), ...known])].sort((a, b) => Number(a) - Number(b)));
    },
    idsFor(pod, containerName) {
      const ids = held.get(pod.metadata.uid ?? '') ?? [];
      // Regular init containers reuse the pod's first devices; the containers that
      // run side by side take disjoint slices.
      const init = (pod.spec.initContainers ?? []).find((c) => c.name === containerName && !isSidecar(c));
      if (init) return ids.slice(0, containerGpuCount(init));
      let offset = 0;
      for (const c of longRunning(pod)) {
        const n = containerGpuCount(c);
        if (c.name === containerName) return ids.slice(offset, offset + n);
        offset += n;
      }
      return [];
    },
    release(uid) {
      held.delete(uid);
    },
    free() {
      return devices.length - inUse().size;
    },
  };
}
