import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createWorkQueue } from '../../../src/agent/controllers/work-queue.ts';
import { silentLogger } from '../../../src/agent/logger.ts';

describe('work queue', () => {
  it('processes a key queued many times once', async () => {
    const seen: string[] = [];
    const q = createWorkQueue({ name: 't', logger: silentLogger(), reconcile: async (k) => void seen.push(k) });
    q.add('a');
    q.add('a');
    q.add('b');
    q.add('a');
    q.start();
    await q.idle();
    assert.deepEqual(seen, ['a', 'b']);
    await q.stop();
  });

  it('never runs two reconciles at once, even when one queues a key before its first await', async () => {
    let inFlight = 0;
    let most = 0;
    let runs = 0;
    const q = createWorkQueue({
      name: 't',
      logger: silentLogger(),
      reconcile: async (k) => {
        inFlight++;
        most = Math.max(most, inFlight);
        // A write whose watch event queues the key again, synchronously.
        if (++runs === 1) q.add(k);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
      },
    });
    q.start();
    q.add('a');
    await q.idle();
    assert.equal(runs, 2, 'the key queued meanwhile runs after');
    assert.equal(most, 1);
    await q.stop();
  });

  it('retries a failing key with back-off until it succeeds', async () => {
    let attempts = 0;
    const times: number[] = [];
    const q = createWorkQueue({
      name: 't',
      logger: silentLogger(),
      baseDelayMs: 20,
      reconcile: async () => {
        times.push(Date.now());
        if (++attempts < 3) throw new Error('not yet');
      },
    });
    q.start();
    q.add('k');
    const deadline = Date.now() + 2000;
    while (attempts < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(attempts, 3);
    // The second retry waited about twice as long as the first.
    assert.ok(times[2]! - times[1]! >= 35, `back-off grows: ${times.map((t) => t - times[0]!)}`);
    await q.stop();
  });

  it('drops adds after stop', async () => {
    const seen: string[] = [];
    const q = createWorkQueue({ name: 't', logger: silentLogger(), reconcile: async (k) => void seen.push(k) });
    q.start();
    await q.stop();
    q.add('late');
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen, []);
  });
});
