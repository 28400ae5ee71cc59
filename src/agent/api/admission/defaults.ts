// Fills the defaults Kubernetes fills on create, per kind, so stored objects look
// as they would on a real API server (kubectl diff and apply depend on it).
import type { KubeObject } from '../object-types.ts';
import type { ResourceType } from '../resources.ts';
import { defaultJob } from './defaults-job.ts';
import { BETA_STORAGE_CLASS_ANNOTATION, LOCAL_PATH_CLASS } from '../persistent-volume-types.ts';
import { defaultHpa } from './defaults-hpa.ts';
import { defaultPod, defaultPodTemplate, isObj, objField, objects, setDefault, type Json } from './defaults-pod.ts';

function defaultService(svc: Json): void {
  const spec = objField(svc, 'spec');
  if (!spec) return;
  setDefault(spec, 'type', 'ClusterIP');
  setDefault(spec, 'sessionAffinity', 'None');
  if (spec.sessionAffinity === 'ClientIP') {
    const cfg = objField(spec, 'sessionAffinityConfig');
    const clientIP = cfg && objField(cfg, 'clientIP');
    if (clientIP) setDefault(clientIP, 'timeoutSeconds', 10800);
  }
  for (const p of objects(spec.ports)) {
    setDefault(p, 'protocol', 'TCP');
    if (typeof p.port === 'number') setDefault(p, 'targetPort', p.port);
  }
  if (spec.type !== 'ExternalName') {
    setDefault(spec, 'internalTrafficPolicy', 'Cluster');
    setDefault(spec, 'ipFamilyPolicy', 'SingleStack');
    setDefault(spec, 'ipFamilies', ['IPv4']);
  }
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') setDefault(spec, 'externalTrafficPolicy', 'Cluster');
}

function defaultNamespace(ns: Json): void {
  const spec = objField(ns, 'spec');
  if (spec) setDefault(spec, 'finalizers', ['kubernetes']);
  const status = objField(ns, 'status');
  if (status) setDefault(status, 'phase', 'Active');
}

function defaultSecret(secret: Json): void {
  setDefault(secret, 'type', 'Opaque');
  // stringData is write-only convenience: it lands base64-encoded in data and wins over it.
  if (isObj(secret.stringData)) {
    const data = objField(secret, 'data');
    if (!data) return;
    for (const [k, v] of Object.entries(secret.stringData)) {
      if (typeof v === 'string') data[k] = Buffer.from(v, 'utf8').toString('base64');
    }
    delete secret.stringData;
  }
}

function defaultEvent(ev: Json): void {
  setDefault(ev, 'count', 1);
}

function defaultEndpoints(ep: Json): void {
  for (const s of objects(ep.subsets)) for (const p of objects(s.ports)) setDefault(p, 'protocol', 'TCP');
}

function defaultEndpointSlice(slice: Json): void {
  for (const p of objects(slice.ports)) {
    setDefault(p, 'name', '');
    setDefault(p, 'protocol', 'TCP');
  }
}

function defaultDeployment(d: Json): void {
  const spec = objField(d, 'spec');
  if (!spec) return;
  setDefault(spec, 'replicas', 1);
  const strategy = objField(spec, 'strategy');
  if (strategy) {
    setDefault(strategy, 'type', 'RollingUpdate');
    if (strategy.type === 'RollingUpdate') {
      const ru = objField(strategy, 'rollingUpdate');
      if (ru) {
        setDefault(ru, 'maxUnavailable', '25%');
        setDefault(ru, 'maxSurge', '25%');
      }
    }
  }
  setDefault(spec, 'revisionHistoryLimit', 10);
  setDefault(spec, 'progressDeadlineSeconds', 600);
  defaultPodTemplate(spec.template);
}

function defaultReplicaSet(rs: Json): void {
  const spec = objField(rs, 'spec');
  if (!spec) return;
  setDefault(spec, 'replicas', 1);
  defaultPodTemplate(spec.template);
}

function defaultStatefulSet(sts: Json): void {
  const spec = objField(sts, 'spec');
  if (!spec) return;
  setDefault(spec, 'replicas', 1);
  setDefault(spec, 'podManagementPolicy', 'OrderedReady');
  const strategy = objField(spec, 'updateStrategy');
  if (strategy) {
    setDefault(strategy, 'type', 'RollingUpdate');
    if (strategy.type === 'RollingUpdate') {
      const ru = objField(strategy, 'rollingUpdate');
      if (ru) setDefault(ru, 'partition', 0);
    }
  }
  setDefault(spec, 'revisionHistoryLimit', 10);
  const retention = objField(spec, 'persistentVolumeClaimRetentionPolicy');
  if (retention) {
    setDefault(retention, 'whenDeleted', 'Retain');
    setDefault(retention, 'whenScaled', 'Retain');
  }
  for (const t of objects(spec.volumeClaimTemplates)) {
    const s = objField(t, 'spec');
    if (s) setDefault(s, 'volumeMode', 'Filesystem');
  }
  defaultPodTemplate(spec.template);
}

function defaultDaemonSet(ds: Json): void {
  const spec = objField(ds, 'spec');
  if (!spec) return;
  const strategy = objField(spec, 'updateStrategy');
  if (strategy) {
    setDefault(strategy, 'type', 'RollingUpdate');
    if (strategy.type === 'RollingUpdate') {
      const ru = objField(strategy, 'rollingUpdate');
      if (ru) {
        setDefault(ru, 'maxUnavailable', 1);
        setDefault(ru, 'maxSurge', 0);
      }
    }
  }
  setDefault(spec, 'revisionHistoryLimit', 10);
  defaultPodTemplate(spec.template);
}

function defaultPersistentVolumeClaim(pvc: Json): void {
  const spec = objField(pvc, 'spec');
  if (spec) {
    setDefault(spec, 'volumeMode', 'Filesystem');
    // Kubernetes' DefaultStorageClass admission: a claim that names no class gets
    // the default one, local-path here ('' still means "no class").
    const annotations = isObj(pvc.metadata) && isObj(pvc.metadata.annotations) ? pvc.metadata.annotations : {};
    if (spec.storageClassName == null && annotations[BETA_STORAGE_CLASS_ANNOTATION] === undefined) spec.storageClassName = LOCAL_PATH_CLASS;
  }
  const status = objField(pvc, 'status');
  if (status) setDefault(status, 'phase', 'Pending');
}

function defaultPersistentVolume(pv: Json): void {
  const spec = objField(pv, 'spec');
  if (spec) {
    setDefault(spec, 'persistentVolumeReclaimPolicy', 'Retain');
    setDefault(spec, 'volumeMode', 'Filesystem');
  }
  // Kubernetes stores Pending and its PV controller makes a free volume Available
  // at once; Mesh stores Available directly (the controller keeps it right after).
  const status = objField(pv, 'status');
  if (status) setDefault(status, 'phase', 'Available');
}

function defaultCronJob(cj: Json): void {
  const spec = objField(cj, 'spec');
  if (!spec) return;
  setDefault(spec, 'concurrencyPolicy', 'Allow');
  setDefault(spec, 'suspend', false);
  setDefault(spec, 'successfulJobsHistoryLimit', 3);
  setDefault(spec, 'failedJobsHistoryLimit', 1);
  const template = objField(spec, 'jobTemplate');
  const jobSpec = template && objField(template, 'spec');
  // No metadata in the wrapper: the selector is generated per Job, from each Job's own uid.
  if (jobSpec) defaultJob({ spec: jobSpec });
}

const BY_KIND: Record<string, (o: Json) => void> = {
  Pod: defaultPod,
  Service: defaultService,
  Namespace: defaultNamespace,
  Secret: defaultSecret,
  Event: defaultEvent,
  Endpoints: defaultEndpoints,
  EndpointSlice: defaultEndpointSlice,
  Deployment: defaultDeployment,
  ReplicaSet: defaultReplicaSet,
  StatefulSet: defaultStatefulSet,
  DaemonSet: defaultDaemonSet,
  Job: defaultJob,
  CronJob: defaultCronJob,
  HorizontalPodAutoscaler: defaultHpa,
  PersistentVolumeClaim: defaultPersistentVolumeClaim,
  PersistentVolume: defaultPersistentVolume,
};

export function applyDefaults(type: ResourceType, obj: KubeObject): void {
  if (!isObj(obj)) return;
  BY_KIND[type.kind]?.(obj as Json);
}
