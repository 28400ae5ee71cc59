// Counts the NVIDIA GPUs on this host, for the Node's `nvidia.com/gpu`
// capacity. The driver creates one /dev/nvidiaN device per GPU; reading the
// directory needs no NVIDIA tools on the host.
import { readdirSync } from 'node:fs';

export function countNvidiaGpus(devDir = '/dev'): number {
  try {
    return readdirSync(devDir).filter((f) => /^nvidia\d+$/.test(f)).length;
  } catch {
    return 0;
  }
}
