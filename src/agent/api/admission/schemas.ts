// The type/shape layer: zod schemas for the fields Kubernetes defines on each
// kind we serve. They check JSON types only; required fields, formats and enums
// are semantic rules (validate-*.ts), so one request reports every bad field.
// Objects are loose: unknown fields pass through untouched, as newer clients
// and fields we don't model yet must survive a round trip. Every field is
// nullish because Kubernetes treats JSON null as "absent".
import { z } from 'zod';

// The `error` string names the expected type; zod-causes.ts puts it into
// "<path> in body must be of type <error>".
const str = () => z.string({ error: 'string' }).nullish();
const int = () => z.int({ error: 'integer' }).nullish();
const bool = () => z.boolean({ error: 'boolean' }).nullish();
const obj = <S extends z.core.$ZodLooseShape>(shape: S) => z.looseObject(shape, { error: 'object' });
const arr = <T extends z.core.SomeType>(item: T) => z.array(item, { error: 'array' }).nullish();
const strMap = () => z.record(z.string(), z.string({ error: 'string' }), { error: 'object' }).nullish();
const intOrString = () => z.union([z.int(), z.string()], { error: 'integer or string' }).nullish();
// Quantities arrive as text (`500m`) or, from YAML, as bare numbers (`cpu: 1`).
const quantity = () => z.union([z.string(), z.number()], { error: 'string or number' });
const quantityMap = () => z.record(z.string(), quantity(), { error: 'object' }).nullish();

export const objectMetaSchema = obj({
  name: str(),
  generateName: str(),
  namespace: str(),
  uid: str(),
  resourceVersion: str(),
  generation: int(),
  labels: strMap(),
  annotations: strMap(),
  finalizers: arr(z.string({ error: 'string' })),
  ownerReferences: arr(obj({ apiVersion: str(), kind: str(), name: str(), uid: str(), controller: bool(), blockOwnerDeletion: bool() })),
});

const keyRef = () => obj({ name: str(), key: str(), optional: bool() }).nullish();

export const envVarSchema = obj({
  name: str(),
  value: str(),
  valueFrom: obj({
    fieldRef: obj({ fieldPath: str(), apiVersion: str() }).nullish(),
    resourceFieldRef: obj({ resource: str(), containerName: str(), divisor: quantity().nullish() }).nullish(),
    configMapKeyRef: keyRef(),
    secretKeyRef: keyRef(),
  }).nullish(),
});

const namedRef = () => obj({ name: str(), optional: bool() }).nullish();

export const probeSchema = obj({
  exec: obj({ command: arr(z.string({ error: 'string' })) }).nullish(),
  httpGet: obj({
    path: str(),
    port: intOrString(),
    host: str(),
    scheme: str(),
    httpHeaders: arr(obj({ name: str(), value: str() })),
  }).nullish(),
  tcpSocket: obj({ port: intOrString(), host: str() }).nullish(),
  grpc: obj({ port: int(), service: str() }).nullish(),
  initialDelaySeconds: int(),
  timeoutSeconds: int(),
  periodSeconds: int(),
  successThreshold: int(),
  failureThreshold: int(),
  terminationGracePeriodSeconds: int(),
});

export const containerSchema = obj({
  name: str(),
  image: str(),
  command: arr(z.string({ error: 'string' })),
  args: arr(z.string({ error: 'string' })),
  workingDir: str(),
  env: arr(envVarSchema),
  envFrom: arr(obj({ prefix: str(), configMapRef: namedRef(), secretRef: namedRef() })),
  ports: arr(obj({ name: str(), containerPort: int(), hostPort: int(), protocol: str(), hostIP: str() })),
  resources: obj({ requests: quantityMap(), limits: quantityMap() }).nullish(),
  imagePullPolicy: str(),
  restartPolicy: str(),
  tty: bool(),
  stdin: bool(),
  stdinOnce: bool(),
  livenessProbe: probeSchema.nullish(),
  readinessProbe: probeSchema.nullish(),
  startupProbe: probeSchema.nullish(),
  lifecycle: obj({}).nullish(),
  volumeMounts: arr(obj({ name: str(), mountPath: str(), readOnly: bool(), subPath: str(), subPathExpr: str(), mountPropagation: str() })),
  terminationMessagePath: str(),
  terminationMessagePolicy: str(),
  securityContext: obj({}).nullish(),
});

const keyToPath = () => arr(obj({ key: str(), path: str(), mode: int() }));

export const volumeSchema = obj({
  name: str(),
  emptyDir: obj({ medium: str(), sizeLimit: quantity().nullish() }).nullish(),
  hostPath: obj({ path: str(), type: str() }).nullish(),
  configMap: obj({ name: str(), defaultMode: int(), optional: bool(), items: keyToPath() }).nullish(),
  secret: obj({ secretName: str(), defaultMode: int(), optional: bool(), items: keyToPath() }).nullish(),
  persistentVolumeClaim: obj({ claimName: str(), readOnly: bool() }).nullish(),
});

export const tolerationSchema = obj({ key: str(), operator: str(), value: str(), effect: str(), tolerationSeconds: int() });

export const podSpecSchema = obj({
  containers: arr(containerSchema),
  initContainers: arr(containerSchema),
  volumes: arr(volumeSchema),
  restartPolicy: str(),
  terminationGracePeriodSeconds: int(),
  activeDeadlineSeconds: int(),
  dnsPolicy: str(),
  nodeSelector: strMap(),
  serviceAccountName: str(),
  serviceAccount: str(),
  automountServiceAccountToken: bool(),
  nodeName: str(),
  hostNetwork: bool(),
  hostPID: bool(),
  hostIPC: bool(),
  shareProcessNamespace: bool(),
  securityContext: obj({}).nullish(),
  imagePullSecrets: arr(obj({ name: str() })),
  hostname: str(),
  subdomain: str(),
  affinity: obj({}).nullish(),
  schedulerName: str(),
  tolerations: arr(tolerationSchema),
  priorityClassName: str(),
  priority: int(),
  enableServiceLinks: bool(),
  preemptionPolicy: str(),
  runtimeClassName: str(),
});

export const labelSelectorSchema = obj({
  matchLabels: strMap(),
  matchExpressions: arr(obj({ key: str(), operator: str(), values: arr(z.string({ error: 'string' })) })),
});

export const podTemplateSchema = obj({ metadata: objectMetaSchema.nullish(), spec: podSpecSchema.nullish() });

const kind = <S extends z.core.$ZodLooseShape>(shape: S) =>
  obj({ apiVersion: str(), kind: str(), metadata: objectMetaSchema.nullish(), ...shape });

export const podSchema = kind({ spec: podSpecSchema.nullish(), status: obj({ phase: str(), qosClass: str() }).nullish() });

export const servicePortSchema = obj({ name: str(), protocol: str(), port: int(), targetPort: intOrString(), nodePort: int(), appProtocol: str() });

export const serviceSchema = kind({
  spec: obj({
    type: str(),
    selector: strMap(),
    ports: arr(servicePortSchema),
    clusterIP: str(),
    clusterIPs: arr(z.string({ error: 'string' })),
    externalName: str(),
    externalIPs: arr(z.string({ error: 'string' })),
    sessionAffinity: str(),
    sessionAffinityConfig: obj({ clientIP: obj({ timeoutSeconds: int() }).nullish() }).nullish(),
    loadBalancerIP: str(),
    loadBalancerSourceRanges: arr(z.string({ error: 'string' })),
    externalTrafficPolicy: str(),
    internalTrafficPolicy: str(),
    ipFamilies: arr(z.string({ error: 'string' })),
    ipFamilyPolicy: str(),
    publishNotReadyAddresses: bool(),
    healthCheckNodePort: int(),
    allocateLoadBalancerNodePorts: bool(),
  }).nullish(),
});

export const configMapSchema = kind({ data: strMap(), binaryData: strMap(), immutable: bool() });
export const secretSchema = kind({ data: strMap(), stringData: strMap(), type: str(), immutable: bool() });
export const namespaceSchema = kind({
  spec: obj({ finalizers: arr(z.string({ error: 'string' })) }).nullish(),
  status: obj({ phase: str() }).nullish(),
});

export const nodeSchema = kind({
  spec: obj({
    podCIDR: str(),
    podCIDRs: arr(z.string({ error: 'string' })),
    unschedulable: bool(),
    providerID: str(),
    taints: arr(obj({ key: str(), value: str(), effect: str(), timeAdded: str() })),
  }).nullish(),
  status: obj({}).nullish(),
});

export const eventSchema = kind({
  involvedObject: obj({ kind: str(), namespace: str(), name: str(), uid: str(), apiVersion: str(), resourceVersion: str(), fieldPath: str() }).nullish(),
  reason: str(),
  message: str(),
  source: obj({ component: str(), host: str() }).nullish(),
  count: int(),
  type: str(),
  firstTimestamp: str(),
  lastTimestamp: str(),
  eventTime: str(),
  reportingComponent: str(),
  reportingInstance: str(),
  action: str(),
});

const endpointAddress = () => obj({ ip: str(), hostname: str(), nodeName: str(), targetRef: obj({}).nullish() });
export const endpointsSchema = kind({
  subsets: arr(
    obj({
      addresses: arr(endpointAddress()),
      notReadyAddresses: arr(endpointAddress()),
      ports: arr(obj({ name: str(), port: int(), protocol: str(), appProtocol: str() })),
    }),
  ),
});

export const endpointSliceSchema = kind({
  addressType: str(),
  endpoints: arr(
    obj({
      addresses: arr(z.string({ error: 'string' })),
      conditions: obj({ ready: bool(), serving: bool(), terminating: bool() }).nullish(),
      hostname: str(),
      targetRef: obj({}).nullish(),
      nodeName: str(),
      zone: str(),
      hints: obj({}).nullish(),
    }),
  ),
  ports: arr(obj({ name: str(), port: int(), protocol: str(), appProtocol: str() })),
});

export const deploymentSchema = kind({
  spec: obj({
    replicas: int(),
    selector: labelSelectorSchema.nullish(),
    template: podTemplateSchema.nullish(),
    strategy: obj({ type: str(), rollingUpdate: obj({ maxSurge: intOrString(), maxUnavailable: intOrString() }).nullish() }).nullish(),
    minReadySeconds: int(),
    revisionHistoryLimit: int(),
    paused: bool(),
    progressDeadlineSeconds: int(),
  }).nullish(),
});

export const replicaSetSchema = kind({
  spec: obj({ replicas: int(), minReadySeconds: int(), selector: labelSelectorSchema.nullish(), template: podTemplateSchema.nullish() }).nullish(),
});

export const statefulSetSchema = kind({
  spec: obj({
    replicas: int(),
    selector: labelSelectorSchema.nullish(),
    template: podTemplateSchema.nullish(),
    serviceName: str(),
    podManagementPolicy: str(),
    updateStrategy: obj({ type: str(), rollingUpdate: obj({ partition: int(), maxUnavailable: intOrString() }).nullish() }).nullish(),
    revisionHistoryLimit: int(),
    minReadySeconds: int(),
    volumeClaimTemplates: arr(obj({ metadata: objectMetaSchema.nullish(), spec: obj({}).nullish() })),
    persistentVolumeClaimRetentionPolicy: obj({ whenDeleted: str(), whenScaled: str() }).nullish(),
    ordinals: obj({ start: int() }).nullish(),
  }).nullish(),
});

export const daemonSetSchema = kind({
  spec: obj({
    selector: labelSelectorSchema.nullish(),
    template: podTemplateSchema.nullish(),
    updateStrategy: obj({ type: str(), rollingUpdate: obj({ maxUnavailable: intOrString(), maxSurge: intOrString() }).nullish() }).nullish(),
    minReadySeconds: int(),
    revisionHistoryLimit: int(),
  }).nullish(),
});

export const jobSchema = kind({
  spec: obj({
    parallelism: int(),
    completions: int(),
    activeDeadlineSeconds: int(),
    backoffLimit: int(),
    ttlSecondsAfterFinished: int(),
    completionMode: str(),
    suspend: bool(),
    manualSelector: bool(),
    selector: labelSelectorSchema.nullish(),
    template: podTemplateSchema.nullish(),
  }).nullish(),
});

const nodeSelectorTerms = () =>
  arr(
    obj({
      matchExpressions: arr(obj({ key: str(), operator: str(), values: arr(z.string({ error: 'string' })) })),
      matchFields: arr(obj({ key: str(), operator: str(), values: arr(z.string({ error: 'string' })) })),
    }),
  );

export const persistentVolumeClaimSchema = kind({
  spec: obj({
    accessModes: arr(z.string({ error: 'string' })),
    resources: obj({ requests: quantityMap(), limits: quantityMap() }).nullish(),
    storageClassName: str(),
    volumeName: str(),
    volumeMode: str(),
    selector: labelSelectorSchema.nullish(),
    volumeAttributesClassName: str(),
  }).nullish(),
  status: obj({ phase: str(), accessModes: arr(z.string({ error: 'string' })), capacity: quantityMap() }).nullish(),
});

export const persistentVolumeSchema = kind({
  spec: obj({
    capacity: quantityMap(),
    accessModes: arr(z.string({ error: 'string' })),
    persistentVolumeReclaimPolicy: str(),
    storageClassName: str(),
    volumeMode: str(),
    mountOptions: arr(z.string({ error: 'string' })),
    claimRef: obj({ kind: str(), apiVersion: str(), namespace: str(), name: str(), uid: str(), resourceVersion: str() }).nullish(),
    local: obj({ path: str(), fsType: str() }).nullish(),
    hostPath: obj({ path: str(), type: str() }).nullish(),
    nodeAffinity: obj({ required: obj({ nodeSelectorTerms: nodeSelectorTerms() }).nullish() }).nullish(),
    volumeAttributesClassName: str(),
  }).nullish(),
  status: obj({ phase: str(), reason: str(), message: str() }).nullish(),
});

// autoscaling/v2. The metric sources Mesh does not serve (pods, object, external,
// containerResource) are typed loosely: validate-hpa.ts refuses them by type.
const hpaScalingRules = () =>
  obj({
    stabilizationWindowSeconds: int(),
    selectPolicy: str(),
    policies: arr(obj({ type: str(), value: int(), periodSeconds: int() })),
    tolerance: quantity().nullish(),
  }).nullish();

export const horizontalPodAutoscalerSchema = kind({
  spec: obj({
    scaleTargetRef: obj({ apiVersion: str(), kind: str(), name: str() }).nullish(),
    minReplicas: int(),
    maxReplicas: int(),
    metrics: arr(
      obj({
        type: str(),
        resource: obj({
          name: str(),
          target: obj({ type: str(), averageUtilization: int(), averageValue: quantity().nullish(), value: quantity().nullish() }).nullish(),
        }).nullish(),
        pods: obj({}).nullish(),
        object: obj({}).nullish(),
        external: obj({}).nullish(),
        containerResource: obj({}).nullish(),
      }),
    ),
    behavior: obj({ scaleUp: hpaScalingRules(), scaleDown: hpaScalingRules() }).nullish(),
  }).nullish(),
  status: obj({ currentReplicas: int(), desiredReplicas: int(), observedGeneration: int(), lastScaleTime: str() }).nullish(),
});

export const cronJobSchema = kind({
  spec: obj({
    schedule: str(),
    timeZone: str(),
    startingDeadlineSeconds: int(),
    concurrencyPolicy: str(),
    suspend: bool(),
    jobTemplate: obj({ metadata: objectMetaSchema.nullish(), spec: jobSchema.shape.spec }).nullish(),
    successfulJobsHistoryLimit: int(),
    failedJobsHistoryLimit: int(),
  }).nullish(),
});

export const genericSchema = kind({});

export type ObjectMetaShape = z.infer<typeof objectMetaSchema>;
export type ContainerShape = z.infer<typeof containerSchema>;
export type PodSpecShape = z.infer<typeof podSpecSchema>;
export type PodTemplateShape = z.infer<typeof podTemplateSchema>;
export type LabelSelectorShape = z.infer<typeof labelSelectorSchema>;
export type ProbeShape = z.infer<typeof probeSchema>;
export type PodShape = z.infer<typeof podSchema>;
export type ServiceShape = z.infer<typeof serviceSchema>;
export type ConfigMapShape = z.infer<typeof configMapSchema>;
export type SecretShape = z.infer<typeof secretSchema>;
export type NamespaceShape = z.infer<typeof namespaceSchema>;
export type NodeShape = z.infer<typeof nodeSchema>;
export type EventShape = z.infer<typeof eventSchema>;
export type EndpointsShape = z.infer<typeof endpointsSchema>;
export type EndpointSliceShape = z.infer<typeof endpointSliceSchema>;
export type DeploymentShape = z.infer<typeof deploymentSchema>;
export type ReplicaSetShape = z.infer<typeof replicaSetSchema>;
export type StatefulSetShape = z.infer<typeof statefulSetSchema>;
export type DaemonSetShape = z.infer<typeof daemonSetSchema>;
export type JobShape = z.infer<typeof jobSchema>;
export type CronJobShape = z.infer<typeof cronJobSchema>;
export type HorizontalPodAutoscalerShape = z.infer<typeof horizontalPodAutoscalerSchema>;
export type PersistentVolumeClaimShape = z.infer<typeof persistentVolumeClaimSchema>;
export type PersistentVolumeShape = z.infer<typeof persistentVolumeSchema>;

const BY_KIND: Record<string, z.ZodType> = {
  Pod: podSchema,
  Service: serviceSchema,
  ConfigMap: configMapSchema,
  Secret: secretSchema,
  Namespace: namespaceSchema,
  Node: nodeSchema,
  Event: eventSchema,
  Endpoints: endpointsSchema,
  EndpointSlice: endpointSliceSchema,
  Deployment: deploymentSchema,
  ReplicaSet: replicaSetSchema,
  StatefulSet: statefulSetSchema,
  DaemonSet: daemonSetSchema,
  Job: jobSchema,
  CronJob: cronJobSchema,
  HorizontalPodAutoscaler: horizontalPodAutoscalerSchema,
  PersistentVolumeClaim: persistentVolumeClaimSchema,
  PersistentVolume: persistentVolumeSchema,
};

export function schemaForKind(kind: string): z.ZodType {
  return BY_KIND[kind] ?? genericSchema;
}
