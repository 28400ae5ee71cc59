// The labels the kubelet puts on every container it creates. They are the only
// record of which pod a container belongs to, so an agent restart can adopt them.
import type { ContainerInfo } from './container-runtime.ts';

export const LABEL_NODE = 'io.mesh.node';
export const LABEL_POD_UID = 'io.mesh.pod.uid';
export const LABEL_POD_NAME = 'io.mesh.pod.name';
export const LABEL_POD_NAMESPACE = 'io.mesh.pod.namespace';
export const LABEL_CONTAINER_NAME = 'io.mesh.container.name';
export const LABEL_CONTAINER_KIND = 'io.mesh.container.kind';
export const LABEL_RESTART_COUNT = 'io.mesh.restart-count';

export type ContainerKind = 'sandbox' | 'init' | 'app';

/** The container name used for the sandbox, as Kubernetes calls it. */
export const SANDBOX_NAME = 'POD';

export function restartCountOf(c: ContainerInfo): number {
  const n = Number(c.labels[LABEL_RESTART_COUNT]);
  return Number.isFinite(n) ? n : 0;
}

/** Newest instance first: by restart count, then creation time. */
export function newestFirst(a: ContainerInfo, b: ContainerInfo): number {
  return restartCountOf(b) - restartCountOf(a) || b.createdAt.localeCompare(a.createdAt);
}

/** Engine-level name; unique per pod uid, container and attempt. */
export function engineName(podName: string, namespace: string, uid: string, container: string, attempt: number): string {
  const safe = (s: string) => s.replace(/[^a-zA-Z0-9_.-]/g, '-');
  return `mesh_${safe(container)}_${safe(podName)}_${safe(namespace)}_${safe(uid)}_${attempt}`;
}
