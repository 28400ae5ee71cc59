// The Events the kubelet records about a pod's containers, with Kubernetes'
// reasons and messages, so `kubectl describe pod` reads as it does on a real node.
import type { Container, Pod } from '../api/object-types.ts';
import type { EventRecorder } from '../event-recorder.ts';
import { formatDuration } from './backoff.ts';
import type { ProbeKind } from './probes/probe-types.ts';

export interface KubeletEvents {
  pulling(pod: Pod, image: string): Promise<void>;
  pulled(pod: Pod, image: string, tookMs: number): Promise<void>;
  alreadyPresent(pod: Pod, image: string): Promise<void>;
  pullFailed(pod: Pod, image: string, message: string): Promise<void>;
  pullBackOff(pod: Pod, image: string): Promise<void>;
  neverPull(pod: Pod, image: string): Promise<void>;
  created(pod: Pod, c: Container): Promise<void>;
  started(pod: Pod, c: Container): Promise<void>;
  /** A container could not be created or started (Failed, "Error: ..."). */
  failed(pod: Pod, message: string): Promise<void>;
  backOff(pod: Pod, c: Container): Promise<void>;
  killing(pod: Pod, message: string): Promise<void>;
  unhealthy(pod: Pod, kind: ProbeKind, output: string): Promise<void>;
  failedPostStartHook(pod: Pod, message: string): Promise<void>;
  failedPreStopHook(pod: Pod, message: string): Promise<void>;
  /** The pod's volumes could not be set up; it waits in ContainerCreating. */
  failedMount(pod: Pod, message: string): Promise<void>;
}

const KIND_LABEL: Record<ProbeKind, string> = { liveness: 'Liveness', readiness: 'Readiness', startup: 'Startup' };

/** `name_namespace(uid)`, how the kubelet names a pod in messages. */
export function podDesc(pod: Pod): string {
  return `${pod.metadata.name ?? ''}_${pod.metadata.namespace ?? 'default'}(${pod.metadata.uid ?? ''})`;
}

export function createKubeletEvents(recorder: EventRecorder): KubeletEvents {
  const obj = (pod: Pod) => ({ ...pod, apiVersion: pod.apiVersion ?? 'v1', kind: pod.kind ?? 'Pod' });
  return {
    pulling: (pod, image) => recorder.normal(obj(pod), 'Pulling', `Pulling image "${image}"`),
    pulled: (pod, image, tookMs) => {
      const took = formatDuration(Math.round(tookMs));
      return recorder.normal(obj(pod), 'Pulled', `Successfully pulled image "${image}" in ${took} (${took} including waiting)`);
    },
    alreadyPresent: (pod, image) => recorder.normal(obj(pod), 'Pulled', `Container image "${image}" already present on machine`),
    pullFailed: async (pod, image, message) => {
      await recorder.warning(obj(pod), 'Failed', `Failed to pull image "${image}": ${message}`);
      await recorder.warning(obj(pod), 'Failed', 'Error: ErrImagePull');
    },
    pullBackOff: async (pod, image) => {
      await recorder.normal(obj(pod), 'BackOff', `Back-off pulling image "${image}"`);
      await recorder.warning(obj(pod), 'Failed', 'Error: ImagePullBackOff');
    },
    neverPull: (pod, image) =>
      recorder.warning(obj(pod), 'ErrImageNeverPull', `Container image "${image}" is not present with pull policy of Never`),
    created: (pod, c) => recorder.normal(obj(pod), 'Created', `Created container: ${c.name}`),
    started: (pod, c) => recorder.normal(obj(pod), 'Started', `Started container ${c.name}`),
    failed: (pod, message) => recorder.warning(obj(pod), 'Failed', `Error: ${message}`),
    backOff: (pod, c) => recorder.warning(obj(pod), 'BackOff', `Back-off restarting failed container ${c.name} in pod ${podDesc(pod)}`),
    killing: (pod, message) => recorder.normal(obj(pod), 'Killing', message),
    unhealthy: (pod, kind, output) => recorder.warning(obj(pod), 'Unhealthy', `${KIND_LABEL[kind]} probe failed: ${output}`),
    failedPostStartHook: (pod, message) => recorder.warning(obj(pod), 'FailedPostStartHook', message),
    failedPreStopHook: (pod, message) => recorder.warning(obj(pod), 'FailedPreStopHook', message),
    failedMount: (pod, message) => recorder.warning(obj(pod), 'FailedMount', message),
  };
}
