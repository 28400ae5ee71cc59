// Per-container probe workers and their results, as the kubelet's prober does:
// one worker per (pod, container, probe kind), restarted whenever the container
// instance changes. Results need successThreshold successes or failureThreshold
// failures in a row to flip. Readiness starts false and liveness true; a startup
// probe holds both off until it succeeds. A liveness or startup failure asks the
// kubelet to kill the instance and pauses the worker until a new instance runs.
import type { Container, Pod } from '../../api/object-types.ts';
import type { Logger } from '../../logger.ts';
import type { CheckTarget } from './probe-runner.ts';
import type { Probe, ProbeClock, ProbeKind, ProbeOutcome } from './probe-types.ts';

export interface RunningContainer {
  container: Container;
  containerId: string;
  /** When this instance started (ms since the epoch). */
  startedAt: number;
}

export interface ProbeFailure {
  pod: Pod;
  container: Container;
  containerId: string;
  kind: 'liveness' | 'startup';
  probe: Probe;
  output: string;
}

export interface ProbeManagerOptions {
  check(probe: Probe, target: CheckTarget, timeoutMs: number): Promise<ProbeOutcome>;
  clock: ProbeClock;
  /** Milliseconds in a probe "second" (1000; tests shrink it). */
  secondMs?: number;
  logger: Logger;
  /** Ready or started changed for a container of this pod: its status needs a write. */
  onChange(podUid: string): void;
  /** Every failed check (the Unhealthy event). */
  onUnhealthy(pod: Pod, container: Container, kind: ProbeKind, output: string): void;
  /** The failure threshold of a liveness or startup probe was reached. */
  onFailure(failure: ProbeFailure): void;
}

export interface ContainerProbeState {
  ready: boolean;
  started: boolean;
}

export interface ProbeManager {
  /** Makes the workers of a pod match its running containers. */
  update(pod: Pod, running: RunningContainer[], podIP: string | undefined): void;
  /** ready/started of a running instance. */
  state(podUid: string, containerName: string, containerId: string): ContainerProbeState;
  removePod(podUid: string): void;
  stop(): void;
}

interface Worker {
  kind: ProbeKind;
  probe: Probe;
  pod: Pod;
  container: Container;
  containerId: string;
  podIP?: string;
  /** The result in force; undefined until the first threshold is met (startup). */
  result?: boolean;
  lastResult?: boolean;
  resultRun: number;
  onHold: boolean;
  due: number;
  timer?: unknown;
  stopped: boolean;
}

const KINDS: [ProbeKind, 'livenessProbe' | 'readinessProbe' | 'startupProbe'][] = [
  ['startup', 'startupProbe'],
  ['liveness', 'livenessProbe'],
  ['readiness', 'readinessProbe'],
];

export function createProbeManager(opts: ProbeManagerOptions): ProbeManager {
  const { clock } = opts;
  const secondMs = opts.secondMs ?? 1000;
  const log = opts.logger.child({ component: 'prober' });
  // podUid -> `${container}/${kind}` -> worker
  const pods = new Map<string, Map<string, Worker>>();
  let closed = false;

  const workerKey = (name: string, kind: ProbeKind) => `${name}/${kind}`;


  function startedOf(uid: string, name: string, containerId: string): boolean {
    const startup = pods.get(uid)?.get(workerKey(name, 'startup'));
    if (!startup) return true;
    return startup.containerId === containerId && startup.result === true;
  }

  function stopWorker(w: Worker): void {
    w.stopped = true;
    if (w.timer !== undefined) clock.clearTimeout(w.timer);
    w.timer = undefined;
  }

  function schedule(w: Worker): void {
    if (w.stopped) return;
    w.timer = clock.setTimeout(() => void tick(w), Math.max(0, w.due - clock.now()));
  }

  async function tick(w: Worker): Promise<void> {
    w.timer = undefined;
    if (w.stopped) return;
    const period = Math.max(1, w.probe.periodSeconds ?? 10) * secondMs;
    w.due += period;
    try {
      await probeOnce(w);
    } catch (err) {
      log.warn({ err, container: w.container.name, kind: w.kind }, 'probe failed to run');
    }
    if (w.due < clock.now()) w.due = clock.now();
    schedule(w);
  }

  async function probeOnce(w: Worker): Promise<void> {
    const uid = w.pod.metadata.uid ?? '';
    if (w.onHold) return;
    const started = startedOf(uid, w.container.name, w.containerId);
    // A startup probe stops once it succeeded; the others wait for it.
    if (w.kind === 'startup' ? w.result === true : !started) return;
    const timeoutMs = Math.max(1, w.probe.timeoutSeconds ?? 1) * secondMs;
    const outcome = await opts.check(w.probe, { container: w.container, containerId: w.containerId, podIP: w.podIP }, timeoutMs);
    if (w.stopped) return;
    if (!outcome.ok) opts.onUnhealthy(w.pod, w.container, w.kind, outcome.output.trim());
    if (w.lastResult === outcome.ok) w.resultRun++;
    else {
      w.lastResult = outcome.ok;
      w.resultRun = 1;
    }
    const threshold = outcome.ok ? (w.probe.successThreshold ?? 1) : (w.probe.failureThreshold ?? 3);
    if (w.resultRun < threshold) return;
    const changed = w.result !== outcome.ok;
    w.result = outcome.ok;
    if (!outcome.ok && (w.kind === 'liveness' || w.kind === 'startup')) {
      // Wait for the kubelet to replace this instance.
      w.onHold = true;
      w.resultRun = 0;
      opts.onFailure({ pod: w.pod, container: w.container, containerId: w.containerId, kind: w.kind, probe: w.probe, output: outcome.output.trim() });
    }
    if (changed && w.kind !== 'liveness') opts.onChange(uid);
  }

  return {
    update(pod, running, podIP) {
      if (closed) return;
      const uid = pod.metadata.uid ?? '';
      let workers = pods.get(uid);
      const wanted = new Set<string>();
      for (const r of running) {
        for (const [kind, field] of KINDS) {
          const probe = r.container[field] as Probe | undefined | null;
          if (!probe) continue;
          const key = workerKey(r.container.name, kind);
          wanted.add(key);
          const existing = workers?.get(key);
          if (existing && existing.containerId === r.containerId) {
            existing.pod = pod;
            existing.podIP = podIP;
            continue;
          }
          if (existing) stopWorker(existing);
          if (!workers) {
            workers = new Map();
            pods.set(uid, workers);
          }
          const w: Worker = {
            kind,
            probe,
            pod,
            container: r.container,
            containerId: r.containerId,
            podIP,
            result: kind === 'readiness' ? false : kind === 'liveness' ? true : undefined,
            resultRun: 0,
            onHold: false,
            due: Math.max(clock.now(), r.startedAt + (probe.initialDelaySeconds ?? 0) * secondMs),
            stopped: false,
          };
          workers.set(key, w);
          schedule(w);
        }
      }
      for (const [key, w] of workers ?? []) {
        if (wanted.has(key)) continue;
        stopWorker(w);
        workers!.delete(key);
      }
      if (workers && workers.size === 0) pods.delete(uid);
    },

    state(uid, name, containerId) {
      const started = startedOf(uid, name, containerId);
      const readiness = pods.get(uid)?.get(workerKey(name, 'readiness'));
      const ready = started && (!readiness || (readiness.containerId === containerId && readiness.result === true));
      return { ready, started };
    },

    removePod(uid) {
      for (const w of pods.get(uid)?.values() ?? []) stopWorker(w);
      pods.delete(uid);
    },

    stop() {
      closed = true;
      for (const uid of [...pods.keys()]) this.removePod(uid);
    },
  };
}
