// The kubelet's resource side of a pod, kept out of kubelet.ts: admission
// (extended resources: GPUs are never overcommitted), the Docker settings of each
// container, and what a pod that failed admission or was evicted reports.
import type { Container, Pod, PodStatus } from '../api/object-types.ts';
import type { ContainerCreateSpec, ContainerInfo } from './container-runtime.ts';
import { containerResourceSettings } from './container-resources.ts';
import { createGpuAllocator, type GpuAdmission, type GpuAllocator } from './gpu-allocator.ts';

/** Container label recording the GPU device IDs it was given (for adoption after a restart). */
export const LABEL_GPU_IDS = 'io.mesh.gpu-ids';

export interface PodFailure {
  reason: string;
  message: string;
}

export interface PodResources {
  readonly gpus: GpuAllocator;
  /**
   * Admits a pod the first time the kubelet sees it; a pod that already has
   * containers was admitted before (its GPUs are taken back from their labels).
   */
  admit(pod: Pod, existing: ContainerInfo[]): GpuAdmission;
  /** Resource fields and labels for creating container c of pod. */
  createSettings(pod: Pod, c: Container, storageQuota: boolean): Pick<ContainerCreateSpec, 'memoryBytes' | 'memorySwapBytes' | 'cpuShares' | 'cpuQuota' | 'cpuPeriod' | 'storageSizeBytes' | 'deviceRequests'> & { labels: Record<string, string> };
  /** Frees what a finished or removed pod held. */
  release(uid: string): void;
}

export function createPodResources(opts: { gpus: number }): PodResources {
  const gpus = createGpuAllocator(opts.gpus);
  const admitted = new Set<string>();
  return {
    gpus,
    admit(pod, existing) {
      const uid = pod.metadata.uid ?? '';
      if (admitted.has(uid)) return { admit: true };
      const app = existing.filter((c) => c.labels['io.mesh.container.kind'] !== 'sandbox');
      if (app.length > 0) {
        for (const c of app) {
          const ids = c.labels[LABEL_GPU_IDS];
          if (ids) gpus.restore(uid, ids.split(','));
        }
        admitted.add(uid);
        return { admit: true };
      }
      const result = gpus.admit(pod);
      if (result.admit) admitted.add(uid);
      return result;
    },
    createSettings(pod, c, storageQuota) {
      const gpuDeviceIDs = gpus.idsFor(pod, c.name);
      const s = containerResourceSettings(c, { storageQuota, gpuDeviceIDs });
      const labels: Record<string, string> = {};
      if (gpuDeviceIDs.length) labels[LABEL_GPU_IDS] = gpuDeviceIDs.join(',');
      return { ...s, labels };
    },
    release(uid) {
      gpus.release(uid);
      admitted.delete(uid);
    },
  };
}

/** The pod as the kubelet fails it: terminal phase with Kubernetes' reason and message. */
export function failedPod(pod: Pod, failure: PodFailure): Pod {
  return { ...pod, status: { ...(pod.status ?? {}), phase: 'Failed', reason: failure.reason, message: failure.message } };
}

/** A failed pod keeps the reason and message it was failed with (Evicted, UnexpectedAdmissionError). */
export function carryFailureReason(next: PodStatus, prev: PodStatus | undefined): void {
  if (next.phase !== 'Failed' || prev?.phase !== 'Failed' || !prev.reason) return;
  next.reason = prev.reason;
  if (prev.message) next.message = prev.message;
}
