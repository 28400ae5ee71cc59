// Kubernetes' slowStartBatch: runs `count` calls in batches of 1, 2, 4, ...
// (each batch in parallel) and stops after the first batch with a failure, so
// a controller whose creates all fail (quota, admission) makes one failing
// call, not hundreds.

export interface BatchResult {
  succeeded: number;
  /** Calls never made because an earlier batch failed. */
  skipped: number;
  /** The first error of the failing batch. */
  error?: unknown;
}

export async function slowStartBatch(count: number, initialBatchSize: number, fn: (index: number) => Promise<void>): Promise<BatchResult> {
  let done = 0;
  let succeeded = 0;
  for (let size = Math.min(count, Math.max(1, initialBatchSize)); size > 0; size = Math.min(2 * size, count - done)) {
    const results = await Promise.allSettled(Array.from({ length: size }, (_, i) => fn(done + i)));
    done += size;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    succeeded += results.filter((r) => r.status === 'fulfilled').length;
    if (failed) return { succeeded, skipped: count - done, error: failed.reason };
  }
  return { succeeded, skipped: 0 };
}
