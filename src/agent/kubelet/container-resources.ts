// Pure: a container's requests and limits as Docker settings, with the
// formulas Kubernetes' kubelet uses (kuberuntime + cm helpers): shares from the
// CPU request, a CFS quota from the CPU limit, a memory limit without swap, and
// the writable-layer size where the storage driver can enforce it.
import type { Container } from '../api/object-types.ts';
import { parseQuantityExact, type ExactQuantity } from '../api/admission/quantity.ts';

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const CPU_PERIOD_US = 100_000;
const MIN_SHARES = 2;
const MAX_SHARES = 262_144;
const SHARES_PER_CPU = 1024;
// The kernel refuses a CFS quota under 1 ms.
const MIN_QUOTA_US = 1000;

export interface DeviceRequest {
  driver: string;
  /** Specific devices; Docker refuses Count together with DeviceIDs. */
  deviceIDs?: string[];
  count?: number;
  capabilities: string[][];
}

export interface ContainerResourceSettings {
  cpuShares: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  memoryBytes?: number;
  memorySwapBytes?: number;
  storageSizeBytes?: number;
  deviceRequests?: DeviceRequest[];
}

export interface ResourceMappingOptions {
  /** Whether the engine can cap a container's writable layer (StorageOpt size). */
  storageQuota: boolean;
  /** GPU device IDs the kubelet assigned to this container. */
  gpuDeviceIDs?: string[];
}

/** ceil(q * 10^scale) as a number; Kubernetes rounds milli values and bytes up. */
function scaledCeil(q: ExactQuantity, scale: number): number {
  const exp = q.exp10 + scale;
  if (exp >= 0) return Number(q.mantissa * 10n ** BigInt(exp));
  const div = 10n ** BigInt(-exp);
  const whole = q.mantissa / div;
  return Number(q.mantissa % div > 0n ? whole + 1n : whole);
}

function quantity(list: Record<string, string> | undefined, name: string): ExactQuantity | undefined {
  const v = list?.[name];
  if (v === undefined || v === null) return undefined;
  // Admission validated it; a bad value here means no setting rather than a crash.
  try {
    return parseQuantityExact(v);
  } catch {
    return undefined;
  }
}

/** Kubernetes' MilliCPUToShares. */
export function milliCpuToShares(milliCpu: number): number {
  if (milliCpu <= 0) return MIN_SHARES;
  const shares = Math.floor((milliCpu * SHARES_PER_CPU) / 1000);
  return Math.min(MAX_SHARES, Math.max(MIN_SHARES, shares));
}

/** Kubernetes' MilliCPUToQuota; 0 means no quota. */
export function milliCpuToQuota(milliCpu: number, periodUs = CPU_PERIOD_US): number {
  if (milliCpu <= 0) return 0;
  return Math.max(MIN_QUOTA_US, Math.floor((milliCpu * periodUs) / 1000));
}

export function milliValue(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  return scaledCeil(parseQuantityExact(v), 3);
}

export function byteValue(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  return scaledCeil(parseQuantityExact(v), 0);
}

/** How many GPUs a container asks for (extended resources: limits, else requests). */
export function containerGpuCount(c: Container): number {
  const q = quantity(c.resources?.limits, GPU_RESOURCE) ?? quantity(c.resources?.requests, GPU_RESOURCE);
  return q ? Math.max(0, scaledCeil(q, 0)) : 0;
}

export function containerResourceSettings(c: Container, opts: ResourceMappingOptions): ContainerResourceSettings {
  const requests = c.resources?.requests;
  const limits = c.resources?.limits;
  const cpuLimit = quantity(limits, 'cpu');
  // A limit without a request means the request equals the limit.
  const cpuRequest = quantity(requests, 'cpu') ?? cpuLimit;
  const out: ContainerResourceSettings = { cpuShares: milliCpuToShares(cpuRequest ? scaledCeil(cpuRequest, 3) : 0) };
  if (cpuLimit) {
    const quota = milliCpuToQuota(scaledCeil(cpuLimit, 3));
    if (quota > 0) {
      out.cpuQuota = quota;
      out.cpuPeriod = CPU_PERIOD_US;
    }
  }
  const memory = quantity(limits, 'memory');
  if (memory) {
    const bytes = scaledCeil(memory, 0);
    if (bytes > 0) {
      out.memoryBytes = bytes;
      out.memorySwapBytes = bytes;
    }
  }
  const storage = quantity(limits, 'ephemeral-storage');
  if (storage && opts.storageQuota) {
    const bytes = scaledCeil(storage, 0);
    if (bytes > 0) out.storageSizeBytes = bytes;
  }
  if (opts.gpuDeviceIDs?.length) {
    out.deviceRequests = [{ driver: 'nvidia', deviceIDs: [...opts.gpuDeviceIDs], capabilities: [['gpu']] }];
  }
  return out;
}
