// Pure: a pod's status from its spec and the container instances the runtime
// reports. The kubelet's sync uses the same rules to decide what to start.
import type { Container, ContainerState, ContainerStatus, Pod, PodCondition, PodStatus } from '../api/object-types.ts';
import type { ContainerInfo } from './container-runtime.ts';
import { podQosClass } from '../api/admission/qos.ts';

export interface WaitingReason {
  reason: string;
  message?: string;
}

export interface PodObservation {
  pod: Pod;
  /** Instances per container name (init and app), newest first. */
  instances: Map<string, ContainerInfo[]>;
  /** Why a container isn't running, when the kubelet knows better than "created". */
  waiting: Map<string, WaitingReason>;
  runtimeName: string;
  podIP?: string;
  hostIP: string;
  now: string;
  /** Probe results of a running instance (readiness, startup); absent means ready and started. */
  probeState?: (containerName: string, containerId: string) => { ready: boolean; started: boolean };
}

export function isSidecar(c: Container): boolean {
  return c.restartPolicy === 'Always';
}

/** Whether an app container that exited with this code is restarted. */
export function shouldRestart(restartPolicy: Pod['spec']['restartPolicy'], exitCode: number | undefined): boolean {
  const policy = restartPolicy ?? 'Always';
  if (policy === 'Always') return true;
  if (policy === 'OnFailure') return exitCode !== 0;
  return false;
}

export interface InitProgress {
  /** All regular init containers completed and every sidecar started. */
  initialized: boolean;
  /** A regular init container failed and will not be retried (restartPolicy Never). */
  failed: boolean;
  /** Init containers not yet done, by name. */
  incomplete: string[];
}

export function initProgress(pod: Pod, instances: Map<string, ContainerInfo[]>): InitProgress {
  const inits = pod.spec.initContainers ?? [];
  // Once an app container exists, initialization happened; it never re-runs.
  const appStarted = pod.spec.containers.some((c) => (instances.get(c.name)?.length ?? 0) > 0);
  const incomplete: string[] = [];
  let failed = false;
  for (const c of inits) {
    const latest = instances.get(c.name)?.[0];
    if (isSidecar(c)) {
      if (!appStarted && latest?.state !== 'running') incomplete.push(c.name);
      continue;
    }
    if (appStarted || (latest?.state === 'exited' && latest.exitCode === 0)) continue;
    incomplete.push(c.name);
    if (latest?.state === 'exited' && (pod.spec.restartPolicy ?? 'Always') === 'Never') failed = true;
  }
  return { initialized: incomplete.length === 0, failed, incomplete };
}

export function podPhase(pod: Pod, instances: Map<string, ContainerInfo[]>): NonNullable<PodStatus['phase']> {
  const prev = pod.status?.phase;
  if (prev === 'Succeeded' || prev === 'Failed') return prev;
  const init = initProgress(pod, instances);
  if (init.failed) return 'Failed';
  if (!init.initialized) return 'Pending';
  let anyStarted = false;
  let allDone = true;
  let allZero = true;
  for (const c of pod.spec.containers) {
    const latest = instances.get(c.name)?.[0];
    if (!latest || latest.state === 'created' || latest.state === 'unknown') {
      allDone = false;
      if (latest?.startedAt) anyStarted = true;
      continue;
    }
    anyStarted = true;
    if (latest.state === 'running' || shouldRestart(pod.spec.restartPolicy, latest.exitCode)) allDone = false;
    else if (latest.exitCode !== 0) allZero = false;
  }
  if (allDone) return allZero ? 'Succeeded' : 'Failed';
  return anyStarted ? 'Running' : 'Pending';
}

function terminated(c: ContainerInfo, runtimeName: string): ContainerState {
  const exitCode = c.exitCode ?? 0;
  return {
    terminated: {
      exitCode,
      // Docker records why a process could not be started (e.g. no such executable).
      reason: c.oomKilled ? 'OOMKilled' : c.error ? 'ContainerCannotRun' : exitCode === 0 ? 'Completed' : 'Error',
      ...(c.error ? { message: c.error } : {}),
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
      containerID: `${runtimeName}://${c.id}`,
    },
  };
}

function containerStatus(
  obs: PodObservation,
  c: Container,
  kind: 'init' | 'app',
  defaultWaiting: string,
): ContainerStatus {
  const list = obs.instances.get(c.name) ?? [];
  const [latest, previous] = list;
  const waiting = obs.waiting.get(c.name);
  const restartCount = latest ? Number(latest.labels['io.mesh.restart-count'] ?? 0) : 0;
  let state: ContainerState;
  let lastState: ContainerState | Record<string, never> = previous && previous.state === 'exited' ? terminated(previous, obs.runtimeName) : {};
  let ready = false;
  const probed = latest?.state === 'running' ? obs.probeState?.(c.name, latest.id) : undefined;
  if (latest?.state === 'running') {
    state = { running: { startedAt: latest.startedAt } };
    ready = (kind === 'app' || isSidecar(c)) && (probed?.ready ?? true);
  } else if (latest?.state === 'exited') {
    if (waiting) {
      state = { waiting: { ...waiting } };
      lastState = terminated(latest, obs.runtimeName);
    } else {
      state = terminated(latest, obs.runtimeName);
    }
    ready = kind === 'init' && !isSidecar(c) && latest.exitCode === 0;
  } else {
    state = { waiting: waiting ? { ...waiting } : { reason: defaultWaiting } };
  }
  const status: ContainerStatus = {
    name: c.name,
    state,
    lastState,
    ready,
    restartCount,
    image: c.image,
    imageID: latest ? `${obs.runtimeName}://${latest.imageID}` : '',
    started: latest?.state === 'running' && (probed?.started ?? true),
  };
  if (latest) status.containerID = `${obs.runtimeName}://${latest.id}`;
  return status;
}

function condition(obs: PodObservation, type: string, ok: boolean, reason?: string, message?: string): PodCondition {
  const prev = obs.pod.status?.conditions?.find((c) => c.type === type);
  const status = ok ? 'True' : 'False';
  const cond: PodCondition = {
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : obs.now,
  };
  if (!ok && reason) cond.reason = reason;
  if (!ok && message) cond.message = message;
  return cond;
}

export function computePodStatus(obs: PodObservation): PodStatus {
  const { pod } = obs;
  const phase = podPhase(pod, obs.instances);
  const init = initProgress(pod, obs.instances);
  const initStatuses = (pod.spec.initContainers ?? []).map((c, i) =>
    containerStatus(obs, c, 'init', i === 0 ? 'ContainerCreating' : 'PodInitializing'),
  );
  const appStatuses = pod.spec.containers.map((c) =>
    containerStatus(obs, c, 'app', init.initialized ? 'ContainerCreating' : 'PodInitializing'),
  );
  const unready = [
    ...(pod.spec.initContainers ?? []).filter(isSidecar).map((c) => initStatuses.find((s) => s.name === c.name)!),
    ...appStatuses,
  ]
    .filter((s) => !s.ready)
    .map((s) => s.name);
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const readyReason = terminal ? 'PodCompleted' : 'ContainersNotReady';
  const readyMessage = terminal ? undefined : `containers with unready status: [${unready.join(' ')}]`;
  const allReady = !terminal && unready.length === 0;
  const status: PodStatus = {
    phase,
    conditions: [
      condition(obs, 'Initialized', init.initialized || (terminal && !init.failed), 'ContainersNotInitialized', `containers with incomplete status: [${init.incomplete.join(' ')}]`),
      condition(obs, 'Ready', allReady, readyReason, readyMessage),
      condition(obs, 'ContainersReady', allReady, readyReason, readyMessage),
      condition(obs, 'PodScheduled', true),
    ],
    hostIP: obs.hostIP,
    hostIPs: [{ ip: obs.hostIP }],
  };
  const podIP = obs.podIP ?? pod.status?.podIP;
  if (podIP) {
    status.podIP = podIP;
    status.podIPs = [{ ip: podIP }];
  }
  status.startTime = pod.status?.startTime ?? obs.now;
  if (initStatuses.length) status.initContainerStatuses = initStatuses;
  status.containerStatuses = appStatuses;
  // Admission sets the class on create and Kubernetes never changes it afterwards.
  status.qosClass = pod.status?.qosClass ?? podQosClass(pod.spec);
  return status;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = canonical(x);
    }
    return out;
  }
  return v;
}

/** Deep equality that ignores key order and undefined fields. */
export function sameStatus(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}
