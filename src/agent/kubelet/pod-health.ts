// The kubelet's health side of a pod: probe workers over the running containers,
// postStart and preStop hooks, and kills of containers that failed liveness or
// startup. Probe results arrive off the pod worker; kills wait in a queue that
// the pod worker drains at the start of its next sync, so only it acts on
// containers.
import type { Container, Pod } from '../api/object-types.ts';
import type { Logger } from '../logger.ts';
import type { ContainerInfo, ContainerRuntime } from './container-runtime.ts';
import type { KubeletEvents } from './kubelet-events.ts';
import { isSidecar } from './pod-status.ts';
import { runLifecycleHook } from './probes/lifecycle-hooks.ts';
import { createProbeManager, type ContainerProbeState, type ProbeFailure } from './probes/probe-manager.ts';
import { createProbeRunner } from './probes/probe-runner.ts';
import { realClock, type Lifecycle, type ProbeClock } from './probes/probe-types.ts';

export interface PodHealthOptions {
  runtime: ContainerRuntime;
  events: KubeletEvents;
  logger: Logger;
  /** Asks the pod worker of this pod to sync. */
  enqueue(podUid: string): void;
  clock?: ProbeClock;
  /** Milliseconds in a probe or hook "second" (1000; tests shrink it). */
  secondMs?: number;
}

export interface PodHealth {
  /** Runs the postStart hook of a just-started container; false when it failed and the container was killed. */
  postStart(pod: Pod, c: Container, containerId: string, podIP: string | undefined): Promise<boolean>;
  /** Kills a running container: Killing event, preStop within the grace period, then SIGTERM/SIGKILL. */
  kill(pod: Pod, c: Container, containerId: string, graceSeconds: number, message: string, podIP?: string): Promise<void>;
  /** Kills the containers whose liveness or startup probe failed; true when any was killed. */
  applyKills(pod: Pod, instances: Map<string, ContainerInfo[]>, podIP: string | undefined): Promise<boolean>;
  /** Points the probe workers at the pod's running containers. */
  observe(pod: Pod, instances: Map<string, ContainerInfo[]>, podIP: string | undefined): void;
  /** ready/started of one running instance. */
  state(podUid: string, containerName: string, containerId: string): ContainerProbeState;
  forget(podUid: string): void;
  stop(): void;
}

/** Kubernetes gives a container at least this long after preStop ate the grace period. */
const MIN_GRACE_AFTER_PRESTOP_S = 2;

function probedContainers(pod: Pod): Container[] {
  return [...(pod.spec.initContainers ?? []).filter(isSidecar), ...pod.spec.containers];
}

export function createPodHealth(opts: PodHealthOptions): PodHealth {
  const { runtime, events } = opts;
  const clock = opts.clock ?? realClock;
  const secondMs = opts.secondMs ?? 1000;
  const log = opts.logger.child({ component: 'pod-health' });
  const runner = createProbeRunner(runtime);
  const pendingKills = new Map<string, Map<string, ProbeFailure>>();

  const probes = createProbeManager({
    check: (probe, target, timeoutMs) => runner.run(probe, target, timeoutMs),
    clock,
    secondMs,
    logger: opts.logger,
    onChange: (uid) => opts.enqueue(uid),
    onUnhealthy: (pod, _c, kind, output) => void events.unhealthy(pod, kind, output),
    onFailure: (failure) => {
      const uid = failure.pod.metadata.uid ?? '';
      let kills = pendingKills.get(uid);
      if (!kills) pendingKills.set(uid, (kills = new Map()));
      kills.set(failure.containerId, failure);
      opts.enqueue(uid);
    },
  });

  async function kill(pod: Pod, c: Container, containerId: string, graceSeconds: number, message: string, podIP?: string): Promise<void> {
    await events.killing(pod, message);
    const t0 = clock.now();
    const preStop = (c.lifecycle as Lifecycle | undefined)?.preStop;
    if (preStop) {
      const failure = await runLifecycleHook(runner, preStop, { pod, container: c, containerId, podIP }, Math.max(1, graceSeconds) * secondMs);
      if (failure) {
        log.info({ pod: pod.metadata.name, container: c.name, failure }, 'preStop hook failed');
        await events.failedPreStopHook(pod, failure);
      }
    }
    const spent = (clock.now() - t0) / secondMs;
    const left = preStop ? Math.max(MIN_GRACE_AFTER_PRESTOP_S, Math.ceil(graceSeconds - spent)) : graceSeconds;
    await runtime.stopContainer(containerId, left);
  }

  return {
    async postStart(pod, c, containerId, podIP) {
      const hook = (c.lifecycle as Lifecycle | undefined)?.postStart;
      if (!hook) return true;
      const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
      const failure = await runLifecycleHook(runner, hook, { pod, container: c, containerId, podIP }, Math.max(1, grace) * secondMs);
      if (!failure) return true;
      log.info({ pod: pod.metadata.name, container: c.name, failure }, 'postStart hook failed; killing the container');
      await events.failedPostStartHook(pod, failure);
      await kill(pod, c, containerId, grace, 'FailedPostStartHook', podIP);
      return false;
    },

    kill,

    async applyKills(pod, instances, podIP) {
      const uid = pod.metadata.uid ?? '';
      const kills = pendingKills.get(uid);
      if (!kills?.size) return false;
      pendingKills.delete(uid);
      let any = false;
      for (const f of kills.values()) {
        const c = probedContainers(pod).find((x) => x.name === f.container.name);
        const latest = instances.get(f.container.name)?.[0];
        if (!c || latest?.id !== f.containerId || latest.state !== 'running') continue;
        const grace = f.probe.terminationGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
        await kill(pod, c, f.containerId, grace, `Container ${c.name} failed ${f.kind} probe, will be restarted`, podIP);
        any = true;
      }
      return any;
    },

    observe(pod, instances, podIP) {
      const running = [];
      for (const c of probedContainers(pod)) {
        const latest = instances.get(c.name)?.[0];
        if (latest?.state !== 'running') continue;
        running.push({ container: c, containerId: latest.id, startedAt: latest.startedAt ? Date.parse(latest.startedAt) : clock.now() });
      }
      probes.update(pod, running, podIP);
    },

    state: (uid, name, id) => probes.state(uid, name, id),

    forget(uid) {
      probes.removePod(uid);
      pendingKills.delete(uid);
    },

    stop() {
      probes.stop();
      pendingKills.clear();
    },
  };
}
