import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Container } from '../../../src/agent/api/object-types.ts';
import {
  containerGpuCount,
  containerResourceSettings,
  milliCpuToQuota,
  milliCpuToShares,
} from '../../../src/agent/kubelet/container-resources.ts';
import { mountOptionsFor, storageQuotaSupported } from '../../../src/agent/kubelet/storage-quota.ts';
import { parseMemInfo } from '../../../src/agent/kubelet/meminfo.ts';

const c = (resources: Container['resources']): Container => ({ name: 'c', image: 'i', resources });
const noQuota = { storageQuota: false };

describe('container resources to Docker settings', () => {
  it('uses Kubernetes shares: milliCPU*1024/1000, at least 2, 2 without a request', () => {
    assert.equal(milliCpuToShares(0), 2);
    assert.equal(milliCpuToShares(1), 2);
    assert.equal(milliCpuToShares(100), 102);
    assert.equal(milliCpuToShares(250), 256);
    assert.equal(milliCpuToShares(1000), 1024);
    assert.equal(milliCpuToShares(10_000_000), 262144);
    assert.equal(containerResourceSettings(c(undefined), noQuota).cpuShares, 2);
    assert.equal(containerResourceSettings(c({ requests: { cpu: '500m' } }), noQuota).cpuShares, 512);
    assert.equal(containerResourceSettings(c({ requests: { cpu: '1.5' } }), noQuota).cpuShares, 1536);
  });

  it('derives quota from limits.cpu with a 100 ms period, and the request from the limit when absent', () => {
    assert.equal(milliCpuToQuota(200), 20_000);
    assert.equal(milliCpuToQuota(5), 1000); // kernel minimum
    assert.equal(milliCpuToQuota(0), 0);
    const s = containerResourceSettings(c({ limits: { cpu: '200m' } }), noQuota);
    assert.equal(s.cpuQuota, 20_000);
    assert.equal(s.cpuPeriod, 100_000);
    assert.equal(s.cpuShares, 204);
    const t = containerResourceSettings(c({ requests: { cpu: '100m' }, limits: { cpu: '2' } }), noQuota);
    assert.deepEqual([t.cpuShares, t.cpuQuota], [102, 200_000]);
    // Sub-milli values round up like Quantity.MilliValue().
    assert.equal(containerResourceSettings(c({ limits: { cpu: '0.0001' } }), noQuota).cpuQuota, 1000);
    assert.equal(containerResourceSettings(c({ requests: { cpu: '0.1' } }), noQuota).cpuShares, 102);
  });

  it('sets a memory limit with equal memory+swap, and nothing without limits', () => {
    const s = containerResourceSettings(c({ limits: { memory: '32Mi' } }), noQuota);
    assert.equal(s.memoryBytes, 32 * 1024 * 1024);
    assert.equal(s.memorySwapBytes, 32 * 1024 * 1024);
    assert.equal(containerResourceSettings(c({ limits: { memory: '1G' } }), noQuota).memoryBytes, 1e9);
    const none = containerResourceSettings(c({ requests: { memory: '64Mi' } }), noQuota);
    assert.equal(none.memoryBytes, undefined);
    assert.equal(none.cpuQuota, undefined);
    assert.equal(none.deviceRequests, undefined);
  });

  it('caps the writable layer only where the engine supports it', () => {
    const res = { limits: { 'ephemeral-storage': '1Gi' } };
    assert.equal(containerResourceSettings(c(res), { storageQuota: true }).storageSizeBytes, 2 ** 30);
    assert.equal(containerResourceSettings(c(res), { storageQuota: false }).storageSizeBytes, undefined);
  });

  it('hands assigned GPUs over as an nvidia device request by ID', () => {
    const gpu = c({ limits: { 'nvidia.com/gpu': '2' } });
    assert.equal(containerGpuCount(gpu), 2);
    assert.equal(containerGpuCount(c({ requests: { 'nvidia.com/gpu': '1' } })), 1);
    assert.equal(containerGpuCount(c(undefined)), 0);
    const s = containerResourceSettings(gpu, { storageQuota: false, gpuDeviceIDs: ['1', '3'] });
    // Docker refuses Count together with DeviceIDs.
    assert.equal(s.deviceRequests?.[0]?.count, undefined);
    assert.deepEqual(s.deviceRequests, [{ driver: 'nvidia', deviceIDs: ['1', '3'], capabilities: [['gpu']] }]);
  });
});

describe('storage quota detection', () => {
  const mounts = [
    '/dev/vda / ext4 rw,relatime 0 0',
    '/dev/vdb /var/lib/docker xfs rw,relatime,attr2,inode64,prjquota 0 0',
    '/dev/vdc /var/lib/dockerx xfs rw,relatime 0 0',
  ].join('\n');
  it('finds the mount holding the data root (longest mount point)', () => {
    assert.ok(mountOptionsFor('/var/lib/docker', mounts).includes('prjquota'));
    assert.ok(mountOptionsFor('/var/lib/docker/overlay2', mounts).includes('prjquota'));
    assert.ok(!mountOptionsFor('/var/lib/dockerx', mounts).includes('prjquota'));
    assert.deepEqual(mountOptionsFor('/srv', mounts), ['rw', 'relatime']);
  });
  it('supports size only for overlay2 on xfs with project quotas', () => {
    assert.equal(storageQuotaSupported('overlay2', 'xfs', ['rw', 'pquota']), true);
    assert.equal(storageQuotaSupported('overlay2', 'xfs', ['rw', 'prjquota']), true);
    assert.equal(storageQuotaSupported('overlay2', 'xfs', ['rw']), false);
    assert.equal(storageQuotaSupported('overlay2', 'extfs', ['rw', 'prjquota']), false);
    assert.equal(storageQuotaSupported('vfs', 'xfs', ['prjquota']), false);
  });
});

describe('meminfo', () => {
  it('reads MemTotal and MemAvailable in bytes', () => {
    const text = 'MemTotal:       24684092 kB\nMemFree:         1000 kB\nMemAvailable:   24021684 kB\n';
    assert.deepEqual(parseMemInfo(text), { totalBytes: 24684092 * 1024, availableBytes: 24021684 * 1024 });
    assert.equal(parseMemInfo('MemTotal: 5 kB\n'), undefined);
  });
});
