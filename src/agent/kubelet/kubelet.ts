// The kubelet: runs the pods bound to this node on a ContainerRuntime and
// reports their status. Level-triggered: watch and runtime events only enqueue a
// pod; a per-pod worker's sync() compares the pod with what the runtime has and
// acts on the difference.
import type { Readable } from 'node:stream';
import { readFileSync } from 'node:fs';
import type { ObjectClient } from '../api/object-client.ts';
import type { Container, KubeObject, Pod } from '../api/object-types.ts';
import { ApiError, BadRequest, NotFound } from '../api/errors.ts';
import type { Logger } from '../logger.ts';
import type { StoreEvent } from '../store/object-store.ts';
import type { ContainerInfo, ContainerMount, ContainerRuntime } from './container-runtime.ts';
import type { LogOptions, PodLogSource } from './log-source.ts';
import { createBackoff, formatDuration, type BackoffConfig } from './backoff.ts';
import { ContainerConfigError, envList, expandVars, resolveEnv, type EnvSources } from './env.ts';
import { secretsReferencedBy } from '../api/secret-references.ts';
import {
  LABEL_CONTAINER_KIND,
  LABEL_CONTAINER_NAME,
  LABEL_NODE,
  LABEL_POD_NAME,
  LABEL_POD_NAMESPACE,
  LABEL_POD_UID,
  LABEL_RESTART_COUNT,
  SANDBOX_NAME,
  engineName,
  newestFirst,
  restartCountOf,
  type ContainerKind,
} from './labels.ts';
import { detectNodeAddress } from './node-address.ts';
import { computePodStatus, initProgress, isSidecar, podPhase, sameStatus, shouldRestart, type WaitingReason } from './pod-status.ts';
import { countNvidiaGpus } from './gpu-detect.ts';
import { carryFailureReason, createPodResources, failedPod, type PodFailure } from './pod-resources.ts';
import { createEventRecorder, type EventRecorder } from '../event-recorder.ts';
import { createKubeletEvents } from './kubelet-events.ts';
import { createPodHealth } from './pod-health.ts';
import type { ProbeClock } from './probes/probe-types.ts';
import { podDnsSettings } from './pod-dns.ts';
import { parseResolvConf } from '../dns/resolv-conf.ts';
import { CLUSTER_DOMAIN } from '../dns/dns-records.ts';
import { createVolumeManager } from './volume-manager.ts';
import { kubeletVolumePaths, type ReadyVolume } from './pod-volumes.ts';

export interface KubeletOptions {
  nodeName: string;
  client: ObjectClient;
  runtime: ContainerRuntime;
  logger: Logger;
  /** Docker network the sandboxes join. */
  podNetwork: string;
  /**
   * When given, sandboxes wait for it and join the network it resolves to
   * instead of podNetwork (the managed pod network, set up once the node has
   * its pod CIDR). Pods stay ContainerCreating meanwhile.
   */
  podNetworkReady?: Promise<string>;
  /** status.hostIP; detected when absent. */
  nodeAddress?: string;
  /** Image of the sandbox container; must be present locally. */
  sandboxImage?: string;
  /** Restart and image-pull back-off (Kubernetes: 10 s doubling to 5 min). */
  backoff?: Partial<BackoffConfig> & { resetAfterMs?: number };
  /** Every pod is re-synced this often, to catch missed events. */
  resyncMs?: number;
  /** GPUs (`nvidia.com/gpu`) the kubelet hands out; detected from /dev when absent. */
  gpus?: number;
  /** Where kubelet Events go; by default recorded through `client` as component `kubelet`. */
  events?: EventRecorder;
  /** Probe and hook timing: a clock, and the milliseconds in a probe "second" (tests shrink it). */
  probes?: { clock?: ProbeClock; secondMs?: number };
  /**
   * Secret values, fetched (through the Raft leader, which checks that a pod of
   * this node uses them) before a container's config is built; missing secrets
   * are absent from the map. Without it, Secrets are read through `client`.
   */
  secrets?: (namespace: string, names: string[]) => Promise<Map<string, { data?: Record<string, string> }>>;
  /**
   * The cluster DNS address for pods with dnsPolicy ClusterFirst, once known;
   * without one they get the node's resolver (dnsPolicy Default).
   */
  clusterDns?: () => string | undefined;
  /** The node's resolv.conf, into which dnsPolicy Default pods' dnsConfig merges; default /etc/resolv.conf. */
  resolvConfPath?: string;
  /**
   * The agent's data directory: pods' own volumes go under <dataDir>/pods, local
   * persistent volumes under <dataDir>/volumes. Without it, pods with emptyDir,
   * configMap or secret volumes wait with FailedMount.
   */
  dataDir?: string;
}

export interface Kubelet extends PodLogSource {
  start(): Promise<void>;
  /** Stops reconciling; leaves the containers running (a restarted agent adopts them). */
  stop(): Promise<void>;
  /** Kills the pod and marks it Failed with reason Evicted (the eviction manager calls this). */
  evict(pod: Pod, message: string): Promise<void>;
}

interface PodWorker {
  uid: string;
  namespace: string;
  name: string;
  running: boolean;
  dirty: boolean;
  done?: Promise<void>;
  timer?: NodeJS.Timeout;
  timerDue?: number;
  waiting: Map<string, WaitingReason>;
  /** The pod minus status and resourceVersion, to skip events of our own status writes. */
  fingerprint?: string;
  /** Last image-pull error per container, for ImagePullBackOff messages. */
  pullErrors: Map<string, string>;
  /** Set when admission rejected the pod or it is being evicted. */
  failure?: PodFailure;
  /** The pod's volumes as last set up, by volume name. */
  volumes?: ReadonlyMap<string, ReadyVolume>;
}

const DEFAULT_SANDBOX_IMAGE = 'mesh.local/busybox:latest';
// Exits at once on SIGTERM; `wait` is interruptible where a foreground sleep isn't.
const SANDBOX_COMMAND = ['sh', '-c', 'trap "exit 0" TERM INT; while true; do sleep 3600 & wait $!; done'];
const RETRY_MS = 1000;

function podKey(pod: { metadata: { namespace?: string; name?: string } }): string {
  return `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name ?? ''}`;
}

function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.slice(image.lastIndexOf('/') + 1);
  const tag = last.includes(':') ? last.slice(last.indexOf(':') + 1) : 'latest';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

export function createKubelet(opts: KubeletOptions): Kubelet {
  const { nodeName, client, runtime } = opts;
  const log = opts.logger.child({ component: 'kubelet', node: nodeName });
  const hostIP = opts.nodeAddress ?? detectNodeAddress();
  const sandboxImage = opts.sandboxImage ?? DEFAULT_SANDBOX_IMAGE;
  const backoffCfg = { initialMs: opts.backoff?.initialMs ?? 10_000, maxMs: opts.backoff?.maxMs ?? 300_000 };
  const resetAfterMs = opts.backoff?.resetAfterMs ?? 600_000;
  const backoff = createBackoff(backoffCfg);
  // Volume set-up retries sooner than image pulls: a claim being bound is a matter of moments.
  const mountBackoff = createBackoff({ initialMs: Math.min(RETRY_MS, backoffCfg.initialMs), maxMs: Math.min(30_000, backoffCfg.maxMs) });
  const resyncMs = opts.resyncMs ?? 10_000;
  const workers = new Map<string, PodWorker>();
  const resources = createPodResources({ gpus: opts.gpus ?? countNvidiaGpus() });
  let storageQuota = false;
  const events = createKubeletEvents(
    opts.events ?? createEventRecorder({ client, source: { component: 'kubelet', host: nodeName }, logger: opts.logger }),
  );
  const health = createPodHealth({
    runtime,
    events,
    logger: log,
    enqueue: (uid) => {
      const w = workers.get(uid);
      if (w) enqueue(w);
    },
    clock: opts.probes?.clock,
    secondMs: opts.probes?.secondMs,
  });
  const volumes = createVolumeManager({
    nodeName,
    client,
    logger: log,
    ...(opts.dataDir ? { paths: kubeletVolumePaths(opts.dataDir) } : {}),
    ...(opts.secrets ? { secrets: opts.secrets } : {}),
  });
  let runtimeName = 'docker';
  let stopped = true;
  let podNetwork: string | undefined = opts.podNetworkReady ? undefined : opts.podNetwork;
  let unwatch: (() => void) | undefined;
  let unEvents: (() => void) | undefined;
  let resyncTimer: NodeJS.Timeout | undefined;

  const envSources: EnvSources = {
    configMap: (ns, name) => client.get<KubeObject & { data?: Record<string, string> }>('configmaps', ns, name),
    secret: (ns, name) => client.get<KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> }>('secrets', ns, name),
  };

  /** The sources for one container start: with a secret fetcher, the pod's Secrets are fetched first. */
  async function envSourcesFor(pod: Pod): Promise<EnvSources> {
    if (!opts.secrets) return envSources;
    const names = secretsReferencedBy(pod);
    let fetched: Map<string, { data?: Record<string, string> }>;
    try {
      fetched = await opts.secrets(pod.metadata.namespace ?? 'default', names);
    } catch (err) {
      throw new ContainerConfigError(`cannot fetch the pod's secrets: ${err instanceof Error ? err.message : String(err)}`);
    }
    return { configMap: envSources.configMap, secret: (_ns, name) => fetched.get(name) };
  }

  // ---- work queue ---------------------------------------------------------

  function workerFor(pod: Pod): PodWorker {
    const uid = pod.metadata.uid ?? '';
    let w = workers.get(uid);
    if (!w) {
      w = {
        uid,
        namespace: pod.metadata.namespace ?? 'default',
        name: pod.metadata.name ?? '',
        running: false,
        dirty: false,
        waiting: new Map(),
        pullErrors: new Map(),
      };
      workers.set(uid, w);
    }
    return w;
  }

  function enqueue(w: PodWorker): void {
    if (stopped) return;
    w.dirty = true;
    if (!w.running) w.done = run(w);
  }

  async function run(w: PodWorker): Promise<void> {
    w.running = true;
    try {
      while (w.dirty && !stopped) {
        w.dirty = false;
        try {
          await sync(w);
        } catch (err) {
          log.warn({ err, pod: `${w.namespace}/${w.name}` }, 'pod sync failed; retrying');
          requeueAfter(w, RETRY_MS);
        }
      }
    } finally {
      w.running = false;
    }
  }

  function requeueAfter(w: PodWorker, ms: number): void {
    if (stopped) return;
    const due = Date.now() + ms;
    if (w.timer && w.timerDue !== undefined && w.timerDue <= due) return;
    if (w.timer) clearTimeout(w.timer);
    w.timerDue = due;
    w.timer = setTimeout(() => {
      w.timer = undefined;
      w.timerDue = undefined;
      enqueue(w);
    }, ms);
  }

  function forget(w: PodWorker): void {
    if (w.timer) clearTimeout(w.timer);
    backoff.resetPrefix(`${w.uid}/`);
    mountBackoff.resetPrefix(`${w.uid}/`);
    resources.release(w.uid);
    health.forget(w.uid);
    workers.delete(w.uid);
  }

  // ---- runtime helpers ----------------------------------------------------

  async function podContainers(uid: string): Promise<ContainerInfo[]> {
    return runtime.listContainers({ [LABEL_NODE]: nodeName, [LABEL_POD_UID]: uid });
  }

  function byName(all: ContainerInfo[]): { sandboxes: ContainerInfo[]; instances: Map<string, ContainerInfo[]> } {
    const sandboxes = all.filter((c) => c.labels[LABEL_CONTAINER_KIND] === 'sandbox').sort(newestFirst);
    const instances = new Map<string, ContainerInfo[]>();
    for (const c of all) {
      if (c.labels[LABEL_CONTAINER_KIND] === 'sandbox') continue;
      const name = c.labels[LABEL_CONTAINER_NAME] ?? '';
      instances.set(name, [...(instances.get(name) ?? []), c]);
    }
    for (const list of instances.values()) list.sort(newestFirst);
    return { sandboxes, instances };
  }

  function labelsFor(pod: Pod, name: string, kind: ContainerKind, restartCount: number): Record<string, string> {
    return {
      [LABEL_NODE]: nodeName,
      [LABEL_POD_UID]: pod.metadata.uid ?? '',
      [LABEL_POD_NAME]: pod.metadata.name ?? '',
      [LABEL_POD_NAMESPACE]: pod.metadata.namespace ?? 'default',
      [LABEL_CONTAINER_NAME]: name,
      [LABEL_CONTAINER_KIND]: kind,
      [LABEL_RESTART_COUNT]: String(restartCount),
    };
  }

  async function removeAll(containers: ContainerInfo[]): Promise<void> {
    await Promise.all(containers.map((c) => runtime.removeContainer(c.id)));
  }

  async function ensureSandbox(pod: Pod, sandboxes: ContainerInfo[], instances: Map<string, ContainerInfo[]>): Promise<ContainerInfo> {
    const running = sandboxes.find((s) => s.state === 'running');
    if (running) {
      await removeAll(sandboxes.filter((s) => s !== running));
      return running;
    }
    if (sandboxes.length > 0) {
      // The network namespace died with the sandbox: containers joined to it must go too.
      log.info({ pod: podKey(pod) }, 'sandbox gone; restarting pod containers');
      const stale = [...instances.values()].flat().filter((c) => c.state === 'running');
      await Promise.all(stale.map((c) => runtime.stopContainer(c.id, 0)));
    }
    if (!(await runtime.imageId(sandboxImage))) throw new Error(`sandbox image ${sandboxImage} is not present`);
    const attempt = sandboxes.length ? restartCountOf(sandboxes[0]) + 1 : 0;
    await removeAll(sandboxes);
    const hostNetwork = pod.spec.hostNetwork === true;
    const id = await runtime.createContainer({
      name: engineName(pod.metadata.name ?? '', pod.metadata.namespace ?? 'default', pod.metadata.uid ?? '', SANDBOX_NAME, attempt),
      image: sandboxImage,
      entrypoint: SANDBOX_COMMAND,
      labels: labelsFor(pod, SANDBOX_NAME, 'sandbox', attempt),
      networkMode: hostNetwork ? 'host' : podNetwork,
      hostname: hostNetwork ? undefined : (pod.spec.hostname ?? pod.metadata.name ?? '').slice(0, 63),
      dns: podDnsSettings(pod, { clusterDns: opts.clusterDns?.(), clusterDomain: CLUSTER_DOMAIN, hostResolvConf }),
    });
    await runtime.startContainer(id);
    const info = await runtime.inspectContainer(id);
    if (!info) throw new Error('sandbox vanished after start');
    return info;
  }

  function hostResolvConf() {
    try {
      return parseResolvConf(readFileSync(opts.resolvConfPath ?? '/etc/resolv.conf', 'utf8'));
    } catch (err) {
      log.warn({ err }, 'cannot read the node resolv.conf');
      return parseResolvConf('');
    }
  }

  function sandboxIP(pod: Pod, sandbox: ContainerInfo | undefined): string | undefined {
    if (pod.spec.hostNetwork) return hostIP;
    if (!sandbox || sandbox.state !== 'running') return undefined;
    return sandbox.ipAddresses[podNetwork ?? opts.podNetwork] ?? Object.values(sandbox.ipAddresses)[0];
  }

  /** True when the image is usable; otherwise records the waiting reason. */
  async function ensureImage(w: PodWorker, c: Container, pod: Pod): Promise<boolean> {
    const policy = c.imagePullPolicy ?? defaultPullPolicy(c.image);
    const present = await runtime.imageId(c.image);
    if (policy === 'Never') {
      if (present) return true;
      await events.neverPull(pod, c.image);
      w.waiting.set(c.name, {
        reason: 'ErrImageNeverPull',
        message: `Container image "${c.image}" is not present with pull policy of Never`,
      });
      requeueAfter(w, resyncMs);
      return false;
    }
    if (policy === 'IfNotPresent' && present) {
      await events.alreadyPresent(pod, c.image);
      return true;
    }
    const key = `${w.uid}/pull/${c.name}`;
    const wait = backoff.remaining(key, Date.now());
    if (wait > 0) {
      await events.pullBackOff(pod, c.image);
      w.waiting.set(c.name, {
        reason: 'ImagePullBackOff',
        message: `Back-off pulling image "${c.image}": ErrImagePull: ${w.pullErrors.get(c.name) ?? ''}`,
      });
      requeueAfter(w, wait + 5);
      return false;
    }
    try {
      await events.pulling(pod, c.image);
      const pullStart = Date.now();
      await runtime.pullImage(c.image);
      await events.pulled(pod, c.image, Date.now() - pullStart);
      backoff.reset(key);
      w.pullErrors.delete(c.name);
      return true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await events.pullFailed(pod, c.image, message);
      backoff.next(key, Date.now());
      w.pullErrors.set(c.name, message);
      w.waiting.set(c.name, { reason: 'ErrImagePull', message });
      requeueAfter(w, backoff.remaining(key, Date.now()) + 5);
      return false;
    }
  }

  /**
   * Starts a new instance of container c unless it is running or in back-off.
   * Keeps the newest exited instance (for `logs --previous`), removes older ones.
   */
  async function runContainer(w: PodWorker, pod: Pod, c: Container, kind: 'init' | 'app', list: ContainerInfo[], sandbox: ContainerInfo): Promise<void> {
    const latest = list[0];
    if (latest?.state === 'running') return;
    const key = `${w.uid}/${c.name}`;
    const now = Date.now();
    if (latest?.state === 'exited') {
      const ran = latest.startedAt && latest.finishedAt ? Date.parse(latest.finishedAt) - Date.parse(latest.startedAt) : 0;
      if (ran >= resetAfterMs) backoff.reset(key);
      const wait = backoff.remaining(key, now);
      if (wait > 0) {
        await events.backOff(pod, c);
        w.waiting.set(c.name, {
          reason: 'CrashLoopBackOff',
          message: `back-off ${formatDuration(backoff.delay(key))} restarting failed container=${c.name} pod=${w.name}_${w.namespace}(${w.uid})`,
        });
        requeueAfter(w, wait + 5);
        return;
      }
    }
    if (!(await ensureImage(w, c, pod))) return;
    let env: Map<string, string>;
    let mounts: ContainerMount[];
    try {
      env = resolveEnv(pod, c, { podIP: sandboxIP(pod, sandbox), hostIP }, await envSourcesFor(pod));
      mounts = await volumes.mounts(c, w.volumes ?? new Map());
    } catch (err) {
      if (!(err instanceof ContainerConfigError)) throw err;
      w.waiting.set(c.name, { reason: 'CreateContainerConfigError', message: err.message });
      await events.failed(pod, err.message);
      requeueAfter(w, RETRY_MS);
      return;
    }
    const attempt = latest ? restartCountOf(latest) + 1 : 0;
    // A created-but-never-started instance is a failed attempt, not history.
    const keep = latest && latest.state !== 'created' ? latest : undefined;
    await removeAll(list.filter((x) => x !== keep));
    const { labels: resourceLabels, ...resourceSettings } = resources.createSettings(pod, c, storageQuota);
    const id = await runtime.createContainer({
      name: engineName(w.name, w.namespace, w.uid, c.name, attempt),
      image: c.image,
      entrypoint: c.command?.map((s) => expandVars(s, env)),
      cmd: c.args?.map((s) => expandVars(s, env)) ?? (c.command ? [] : undefined),
      env: envList(env),
      workingDir: c.workingDir,
      labels: { ...labelsFor(pod, c.name, kind, attempt), ...resourceLabels },
      networkMode: `container:${sandbox.id}`,
      tty: c.tty,
      stdin: c.stdin,
      ...(mounts.length ? { mounts } : {}),
      ...resourceSettings,
    });
    if (latest) backoff.next(key, now);
    await events.created(pod, c);
    try {
      await runtime.startContainer(id);
      w.waiting.delete(c.name);
      await events.started(pod, c);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await events.failed(pod, message);
      // The runtime reports a process that could not start as an exit
      // (ContainerCannotRun), which the restart policy and back-off handle.
      if ((await runtime.inspectContainer(id))?.state === 'exited') {
        w.waiting.delete(c.name);
        requeueAfter(w, 5);
      } else {
        w.waiting.set(c.name, { reason: 'RunContainerError', message });
        requeueAfter(w, RETRY_MS);
      }
      return;
    }
    // A failed postStart hook kills the container; the next sync restarts it by policy.
    if (!(await health.postStart(pod, c, id, sandboxIP(pod, sandbox)))) requeueAfter(w, 5);
    log.info({ pod: `${w.namespace}/${w.name}`, container: c.name, attempt }, 'container started');
  }

  // ---- sync ---------------------------------------------------------------

  async function sync(w: PodWorker): Promise<void> {
    let pod = client.get<Pod>('pods', w.namespace, w.name);
    if (!pod || pod.metadata.uid !== w.uid || pod.spec.nodeName !== nodeName) {
      await removeAll(await podContainers(w.uid));
      forget(w);
      await volumes.tearDown(w.uid);
      return;
    }
    if (pod.metadata.deletionTimestamp) {
      await terminate(w, pod);
      return;
    }
    let all = await podContainers(w.uid);
    let { sandboxes, instances } = byName(all);
    if (pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed') {
      // Admission (no GPU overcommit) and eviction end here: killed, then reported Failed.
      const admission = w.failure ? { admit: true } : resources.admit(pod, all);
      if (!admission.admit) w.failure = { reason: admission.reason ?? 'UnexpectedAdmissionError', message: admission.message ?? '' };
      if (w.failure) {
        pod = failedPod(pod, w.failure);
        const victims = all.filter((c) => c.state === 'running' && c.labels[LABEL_CONTAINER_KIND] !== 'sandbox');
        await Promise.all(victims.map((c) => runtime.stopContainer(c.id, 0)));
        all = await podContainers(w.uid);
        ({ sandboxes, instances } = byName(all));
      }
    }
    if (await health.applyKills(pod, instances, sandboxIP(pod, sandboxes[0]))) {
      all = await podContainers(w.uid);
      ({ sandboxes, instances } = byName(all));
    }
    const phase = podPhase(pod, instances);
    // Until the pod network is up only host-network pods start; its readiness enqueues every pod.
    // Volumes come first: a pod whose volumes cannot be set up waits in ContainerCreating.
    if (phase !== 'Succeeded' && phase !== 'Failed' && (podNetwork !== undefined || pod.spec.hostNetwork === true) && (await mountVolumes(w, pod))) {
      const sandbox = await ensureSandbox(pod, sandboxes, instances);
      if (sandbox !== sandboxes[0]) ({ sandboxes, instances } = byName(await podContainers(w.uid)));
      await startWhatIsDue(w, pod, instances, sandbox);
      all = await podContainers(w.uid);
      ({ sandboxes, instances } = byName(all));
    }
    health.observe(pod, instances, sandboxIP(pod, sandboxes[0]));
    const status = computePodStatus({
      pod,
      instances,
      waiting: w.waiting,
      runtimeName,
      podIP: sandboxIP(pod, sandboxes[0]),
      hostIP,
      now: new Date().toISOString(),
      probeState: (name, id) => health.state(w.uid, name, id),
    });
    carryFailureReason(status, pod.status);
    if (status.phase === 'Succeeded' || status.phase === 'Failed') resources.release(w.uid);
    if (status.phase === 'Succeeded' || status.phase === 'Failed') {
      // A finished pod keeps no sidecars or sandbox running.
      await Promise.all(all.filter((c) => c.state === 'running').map((c) => runtime.stopContainer(c.id, pod.spec.terminationGracePeriodSeconds ?? 30)));
    }
    if (!sameStatus(status, pod.status ?? {})) {
      try {
        await client.updateStatus<Pod>('pods', { ...pod, status });
        if (status.phase === 'Failed') w.failure = undefined;
      } catch (err) {
        if (err instanceof NotFound) return;
        throw err;
      }
    }
  }

  /** True when every volume of the pod is ready; otherwise a FailedMount event and a retry. */
  async function mountVolumes(w: PodWorker, pod: Pod): Promise<boolean> {
    const key = `${w.uid}/mount`;
    const r = await volumes.setUp(pod);
    if (r.ok) {
      w.volumes = r.volumes;
      mountBackoff.reset(key);
      return true;
    }
    log.info({ pod: podKey(pod), volumes: r.unmounted }, 'volumes not ready');
    await events.failedMount(pod, r.message);
    mountBackoff.next(key, Date.now());
    requeueAfter(w, mountBackoff.remaining(key, Date.now()) + 5);
    return false;
  }

  async function startWhatIsDue(w: PodWorker, pod: Pod, instances: Map<string, ContainerInfo[]>, sandbox: ContainerInfo): Promise<void> {
    const progress = initProgress(pod, instances);
    if (progress.failed) return;
    const list = (name: string) => instances.get(name) ?? [];
    if (!progress.initialized) {
      for (const c of pod.spec.initContainers ?? []) {
        const latest = list(c.name)[0];
        if (isSidecar(c)) {
          if (latest?.state === 'running') continue;
          await runContainer(w, pod, c, 'init', list(c.name), sandbox);
          return; // the next one waits for this sidecar to be seen running
        }
        if (latest?.state === 'exited' && latest.exitCode === 0) continue;
        if (latest?.state === 'running') return;
        await runContainer(w, pod, c, 'init', list(c.name), sandbox);
        return;
      }
      return;
    }
    for (const c of (pod.spec.initContainers ?? []).filter(isSidecar)) {
      await runContainer(w, pod, c, 'init', list(c.name), sandbox);
    }
    for (const c of pod.spec.containers) {
      const latest = list(c.name)[0];
      if (latest?.state === 'exited' && !shouldRestart(pod.spec.restartPolicy, latest.exitCode)) continue;
      await runContainer(w, pod, c, 'app', list(c.name), sandbox);
    }
  }

  async function terminate(w: PodWorker, pod: Pod): Promise<void> {
    const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    const all = await podContainers(w.uid);
    const running = (kind: ContainerKind) => all.filter((c) => c.state === 'running' && c.labels[LABEL_CONTAINER_KIND] === kind);
    log.info({ pod: podKey(pod), grace }, 'terminating pod');
    health.forget(w.uid); // no probe may kill or restart what is being stopped
    const podIP = sandboxIP(pod, running('sandbox')[0]);
    const specs = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
    // Killing event and preStop hook first, within the grace period.
    const stop = (c: ContainerInfo) => {
      const spec = specs.find((x) => x.name === c.labels[LABEL_CONTAINER_NAME]);
      return spec ? health.kill(pod, spec, c.id, grace, `Stopping container ${spec.name}`, podIP) : runtime.stopContainer(c.id, grace);
    };
    // App containers first, then sidecars, then the sandbox that holds the network.
    await Promise.all(running('app').map(stop));
    await Promise.all(running('init').map(stop));
    await Promise.all(running('sandbox').map((c) => runtime.stopContainer(c.id, grace)));
    await removeAll(all);
    await volumes.tearDown(w.uid);
    try {
      await client.delete('pods', w.namespace, w.name, { gracePeriodSeconds: 0, preconditions: { uid: w.uid } });
    } catch (err) {
      // Already gone, or replaced by a new pod of the same name.
      if (!(err instanceof ApiError) || (err.code !== 404 && err.code !== 409)) throw err;
    }
    forget(w);
  }

  // ---- events -------------------------------------------------------------

  function fingerprint(pod: Pod): string {
    const { resourceVersion: _rv, managedFields: _mf, ...meta } = pod.metadata;
    return JSON.stringify([meta, pod.spec]);
  }

  function onPodEvent(event: StoreEvent): void {
    const pod = event.object as Pod;
    const uid = pod.metadata.uid;
    if (!uid) return;
    if (event.type === 'DELETED') {
      const w = workers.get(uid);
      if (w) enqueue(w);
      return;
    }
    const w = workerFor(pod);
    // Our own status writes come back as MODIFIED; they change nothing to do.
    const fp = fingerprint(pod);
    if (event.type === 'MODIFIED' && w.fingerprint === fp) return;
    w.fingerprint = fp;
    enqueue(w);
  }

  async function sweepOrphans(): Promise<void> {
    const mine = await runtime.listContainers({ [LABEL_NODE]: nodeName });
    const orphans = mine.filter((c) => {
      const uid = c.labels[LABEL_POD_UID] ?? '';
      if (workers.has(uid)) return false;
      const pod = client.get<Pod>('pods', c.labels[LABEL_POD_NAMESPACE] ?? '', c.labels[LABEL_POD_NAME] ?? '');
      return !pod || pod.metadata.uid !== uid;
    });
    if (orphans.length) log.info({ count: orphans.length }, 'removing containers of pods that no longer exist');
    await removeAll(orphans);
    // Volume directories of pods this kubelet no longer runs; none while stopping, when workers are cleared.
    await volumes.sweep((uid) => stopped || workers.has(uid));
  }

  function resync(): void {
    for (const w of workers.values()) enqueue(w);
    sweepOrphans().catch((err) => log.warn({ err }, 'orphan sweep failed'));
  }

  // ---- public -------------------------------------------------------------

  return {
    async start() {
      stopped = false;
      const info = await runtime.info();
      runtimeName = info.name;
      storageQuota = info.storageQuota ?? false;
      opts.podNetworkReady?.then(
        (name) => {
          podNetwork = name;
          for (const w of workers.values()) enqueue(w);
        },
        (err) => log.error({ err }, 'the pod network failed; pods without host networking cannot start'),
      );
      await volumes.start((uid) => {
        const w = workers.get(uid);
        if (w) enqueue(w);
      });
      unEvents = runtime.onEvent((e) => {
        if (e.labels[LABEL_NODE] !== nodeName) return;
        const w = workers.get(e.labels[LABEL_POD_UID] ?? '');
        if (w) enqueue(w);
      });
      const fieldSelector = `spec.nodeName=${nodeName}`;
      const listed = client.list<Pod>('pods', { fieldSelector });
      for (const pod of listed.items) if (pod.metadata.uid) workerFor(pod);
      unwatch = client.watch('pods', { fieldSelector, resourceVersion: listed.resourceVersion }, onPodEvent);
      // Adopt: running containers of existing pods are left alone; sync sees them.
      await sweepOrphans();
      for (const w of workers.values()) enqueue(w);
      resyncTimer = setInterval(resync, resyncMs);
      log.info({ pods: workers.size }, 'kubelet started');
    },

    async stop() {
      stopped = true;
      unwatch?.();
      unEvents?.();
      volumes.stop();
      if (resyncTimer) clearInterval(resyncTimer);
      for (const w of workers.values()) if (w.timer) clearTimeout(w.timer);
      await Promise.all([...workers.values()].map((w) => w.done));
      health.stop(); // after the workers: a sync in flight still observes containers
      workers.clear();
    },

    async evict(pod: Pod, message: string): Promise<void> {
      const w = workers.get(pod.metadata.uid ?? '');
      if (!w) return;
      w.failure = { reason: 'Evicted', message };
      enqueue(w);
      await w.done;
    },

    async streamLogs(pod: Pod, lo: LogOptions): Promise<Readable> {
      const podName = pod.metadata.name ?? '';
      const inits = pod.spec.initContainers ?? [];
      let name = lo.container;
      if (!name) {
        if (pod.spec.containers.length !== 1) {
          const names = pod.spec.containers.map((c) => c.name).join(' ');
          const initNames = inits.length ? ` or one of the init containers: [${inits.map((c) => c.name).join(' ')}]` : '';
          throw new BadRequest(`a container name must be specified for pod ${podName}, choose one of: [${names}]${initNames}`);
        }
        name = pod.spec.containers[0].name;
      }
      if (![...pod.spec.containers, ...inits].some((c) => c.name === name)) {
        throw new BadRequest(`container ${name} is not valid for pod ${podName}`);
      }
      const list = (await runtime.listContainers({ [LABEL_NODE]: nodeName, [LABEL_POD_UID]: pod.metadata.uid ?? '', [LABEL_CONTAINER_NAME]: name }))
        .filter((c) => c.labels[LABEL_CONTAINER_KIND] !== 'sandbox' && c.state !== 'created')
        .sort(newestFirst);
      const target = lo.previous ? list[1] : list[0];
      if (!target) {
        if (lo.previous) throw new BadRequest(`previous terminated container "${name}" in pod "${podName}" not found`);
        const reason = workers.get(pod.metadata.uid ?? '')?.waiting.get(name)?.reason ?? 'ContainerCreating';
        throw new BadRequest(`container "${name}" in pod "${podName}" is waiting to start: ${reason}`);
      }
      return runtime.logs(target.id, {
        follow: lo.follow,
        tail: lo.tailLines,
        timestamps: lo.timestamps,
        sinceSeconds: lo.sinceSeconds,
      });
    },
  };
}
