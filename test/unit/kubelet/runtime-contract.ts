// The contract every ContainerRuntime meets. Run against the fake
// (fake-runtime.test.ts) and against Docker (test/e2e/docker-runtime.test.ts).
// Containers run the shell programs below; the fake maps each to a scripted
// behaviour, Docker runs them for real.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerEvent, ContainerRuntime } from '../../../src/agent/kubelet/container-runtime.ts';

export const PROGRAMS = {
  /** Prints `a` and runs until stopped (exits at once on SIGTERM). */
  printThenWait: ['sh', '-c', 'echo a; trap "exit 0" TERM; while true; do sleep 600 & wait $!; done'],
  /** Prints `out` on stdout and `err` on stderr, then exits 3. */
  exit3: ['sh', '-c', 'echo out; echo err >&2; sleep 0.2; exit 3'],
  /** Ignores SIGTERM: stop must fall back to SIGKILL. */
  ignoreTerm: ['sh', '-c', 'trap "" TERM; while true; do sleep 1; done'],
  /** Spins one CPU until killed. */
  busy: ['sh', '-c', 'while :; do :; done'],
};

/** Commands run with exec() inside a printThenWait container. */
export const EXEC_COMMANDS = {
  /** Prints `hi` on stdout and `oops` on stderr, exits 3. */
  exit3: ['sh', '-c', 'echo hi; echo oops >&2; exit 3'],
  /** Takes far longer than the exec timeout. */
  slow: ['sh', '-c', 'sleep 5'],
};

export interface RuntimeHarness {
  runtime: ContainerRuntime;
  image: string;
  /** Labels unique to this run, put on every container (cleanup finds them). */
  labels: Record<string, string>;
  cleanup(): Promise<void>;
}

async function readAll(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

async function readUntil(stream: Readable, pattern: RegExp, timeoutMs: number): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(text)}`)), timeoutMs);
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
  });
}

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out: ${what}`);
}

export function runtimeContract(name: string, setup: () => Promise<RuntimeHarness>): void {
  describe(`ContainerRuntime contract: ${name}`, { timeout: 60_000 }, () => {
    let h: RuntimeHarness;
    let seq = 0;
    const uniqueName = () => `contract-${process.pid}-${Date.now().toString(36)}-${seq++}`;

    before(async () => {
      h = await setup();
    });
    after(async () => {
      await h.cleanup();
    });

    it('creates, starts, lists by labels, stops and removes a container', async () => {
      const id = await h.runtime.createContainer({
        name: uniqueName(),
        image: h.image,
        entrypoint: PROGRAMS.printThenWait,
        labels: { ...h.labels, 'io.mesh.test.case': 'lifecycle' },
      });
      let info = await h.runtime.inspectContainer(id);
      assert.equal(info?.state, 'created');
      await h.runtime.startContainer(id);
      info = await h.runtime.inspectContainer(id);
      assert.equal(info?.state, 'running');
      assert.equal(info?.labels['io.mesh.test.case'], 'lifecycle');
      assert.ok(info?.startedAt, 'startedAt set');
      assert.match(info!.imageID, /^sha256:/);

      const mine = await h.runtime.listContainers({ ...h.labels, 'io.mesh.test.case': 'lifecycle' });
      assert.deepEqual(mine.map((c) => c.id), [id]);
      const none = await h.runtime.listContainers({ ...h.labels, 'io.mesh.test.case': 'other' });
      assert.equal(none.length, 0);

      const t0 = Date.now();
      await h.runtime.stopContainer(id, 10);
      assert.ok(Date.now() - t0 < 8000, 'a container that handles SIGTERM stops before the timeout');
      info = await h.runtime.inspectContainer(id);
      assert.equal(info?.state, 'exited');
      await h.runtime.stopContainer(id, 1); // already stopped: no error
      await h.runtime.removeContainer(id);
      assert.equal(await h.runtime.inspectContainer(id), undefined);
      await h.runtime.removeContainer(id); // already gone: no error
    });

    it('reports exit codes and demultiplexed stdout+stderr logs', async () => {
      const id = await h.runtime.createContainer({ name: uniqueName(), image: h.image, entrypoint: PROGRAMS.exit3, labels: h.labels });
      await h.runtime.startContainer(id);
      assert.equal(await h.runtime.waitContainer(id), 3);
      const info = await h.runtime.inspectContainer(id);
      assert.equal(info?.state, 'exited');
      assert.equal(info?.exitCode, 3);
      assert.equal(info?.oomKilled, false);
      assert.ok(info?.finishedAt);

      const all = await readAll(await h.runtime.logs(id, {}));
      assert.deepEqual(all.trim().split('\n').sort(), ['err', 'out']);
      const tail = await readAll(await h.runtime.logs(id, { tail: 1 }));
      assert.equal(tail.trim().split('\n').length, 1);
      const stamped = await readAll(await h.runtime.logs(id, { timestamps: true }));
      for (const line of stamped.trim().split('\n')) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (out|err)$/);
      // follow on an exited container ends by itself
      const followed = await readAll(await h.runtime.logs(id, { follow: true }));
      assert.match(followed, /out/);
      await h.runtime.removeContainer(id);
    });

    it('follows logs of a running container until it stops', async () => {
      const id = await h.runtime.createContainer({ name: uniqueName(), image: h.image, entrypoint: PROGRAMS.printThenWait, labels: h.labels });
      await h.runtime.startContainer(id);
      const stream = await h.runtime.logs(id, { follow: true });
      const ended = new Promise<void>((resolve) => stream.on('end', resolve));
      assert.match(await readUntil(stream, /a\n/, 10_000), /^a\n$/);
      await h.runtime.stopContainer(id, 5);
      await ended;
      await h.runtime.removeContainer(id);
    });

    it('kills a container that ignores SIGTERM after the timeout', async () => {
      const id = await h.runtime.createContainer({ name: uniqueName(), image: h.image, entrypoint: PROGRAMS.ignoreTerm, labels: h.labels });
      await h.runtime.startContainer(id);
      const t0 = Date.now();
      await h.runtime.stopContainer(id, 1);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 900, `stop waited the timeout (${elapsed} ms)`);
      const info = await h.runtime.inspectContainer(id);
      assert.equal(info?.state, 'exited');
      assert.equal(info?.exitCode, 137);
      await h.runtime.removeContainer(id);
    });

    it('runs commands inside a running container, with exit code, output and timeout', async () => {
      const id = await h.runtime.createContainer({ name: uniqueName(), image: h.image, entrypoint: PROGRAMS.printThenWait, labels: h.labels });
      await h.runtime.startContainer(id);
      const r = await h.runtime.exec(id, EXEC_COMMANDS.exit3, 5000);
      assert.equal(r.exitCode, 3);
      assert.deepEqual(r.output.trim().split('\n').sort(), ['hi', 'oops']);
      const t0 = Date.now();
      await assert.rejects(h.runtime.exec(id, EXEC_COMMANDS.slow, 300), (err: Error) => err.name === 'ExecTimeoutError');
      assert.ok(Date.now() - t0 < 3000, 'the timeout cut the exec short');
      await h.runtime.stopContainer(id, 5);
      await assert.rejects(h.runtime.exec(id, EXEC_COMMANDS.exit3, 1000), 'exec in a stopped container fails');
      await h.runtime.removeContainer(id);
    });

    it('reports start and die events', async () => {
      const events: ContainerEvent[] = [];
      const off = h.runtime.onEvent((e) => events.push(e));
      try {
        // Let the event stream connect before acting.
        await new Promise((r) => setTimeout(r, 300));
        const id = await h.runtime.createContainer({ name: uniqueName(), image: h.image, entrypoint: PROGRAMS.exit3, labels: h.labels });
        await h.runtime.startContainer(id);
        await eventually(() => events.some((e) => e.id === id && e.type === 'die'), 10_000, 'die event');
        const mine = events.filter((e) => e.id === id);
        assert.equal(mine[0]?.type, 'start');
        for (const [k, v] of Object.entries(h.labels)) assert.equal(mine[0]?.labels[k], v);
        await h.runtime.removeContainer(id);
      } finally {
        off();
      }
    });

    it('reports usage counters of a running container, none for a stopped or missing one', async () => {
      const id = await h.runtime.createContainer({ name: uniqueName(), image: h.image, entrypoint: PROGRAMS.busy, labels: h.labels });
      await h.runtime.startContainer(id);
      const first = await h.runtime.stats(id);
      assert.ok(first, 'stats of a running container');
      await new Promise((r) => setTimeout(r, 500));
      const second = await h.runtime.stats(id);
      assert.ok(second);
      assert.ok(second.timestampMs > first.timestampMs, 'the reading time advances');
      const seconds = (second.timestampMs - first.timestampMs) / 1000;
      const cores = (second.cpuUsageNanoSeconds - first.cpuUsageNanoSeconds) / 1e9 / seconds;
      // A spinning shell uses most of a core; the margin covers scheduling noise.
      assert.ok(cores > 0.2 && cores < 1.5, `busy container used ${cores.toFixed(2)} cores`);
      assert.ok(second.memoryWorkingSetBytes > 0, 'working set > 0');
      await h.runtime.stopContainer(id, 0);
      assert.equal(await h.runtime.stats(id), undefined);
      await h.runtime.removeContainer(id);
      assert.equal(await h.runtime.stats(id), undefined);
    });

    it('gives a container that owns its network namespace resolver settings, and refuses them for a joined one', async () => {
      const dns = { nameservers: ['10.244.0.1'], searches: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: ['ndots:5'] };
      const id = await h.runtime.createContainer({ name: uniqueName(), image: h.image, entrypoint: PROGRAMS.printThenWait, labels: h.labels, dns });
      assert.deepEqual((await h.runtime.inspectContainer(id))?.dns, dns);
      await h.runtime.startContainer(id);
      await assert.rejects(
        h.runtime.createContainer({ name: uniqueName(), image: h.image, entrypoint: PROGRAMS.printThenWait, labels: h.labels, networkMode: `container:${id}`, dns }),
        /dns/,
      );
      const joined = await h.runtime.createContainer({ name: uniqueName(), image: h.image, entrypoint: PROGRAMS.printThenWait, labels: h.labels, networkMode: `container:${id}` });
      assert.equal((await h.runtime.inspectContainer(joined))?.dns, undefined, 'no settings of its own');
      await h.runtime.removeContainer(joined);
      await h.runtime.removeContainer(id);
    });

    it('binds host paths into a container, read-only where asked, and refuses missing sources and duplicate targets', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mesh-contract-'));
      try {
        await writeFile(join(dir, 'file.txt'), 'x');
        const mounts = [
          { hostPath: dir, containerPath: '/data', readOnly: false },
          { hostPath: join(dir, 'file.txt'), containerPath: '/etc/one.txt', readOnly: true },
        ];
        const id = await h.runtime.createContainer({ name: uniqueName(), image: h.image, entrypoint: PROGRAMS.printThenWait, labels: h.labels, mounts });
        const byTarget = (m: { containerPath: string }, n: { containerPath: string }) => m.containerPath.localeCompare(n.containerPath);
        assert.deepEqual([...((await h.runtime.inspectContainer(id))?.mounts ?? [])].sort(byTarget), [...mounts].sort(byTarget));
        await h.runtime.removeContainer(id);
        const plain = await h.runtime.createContainer({ name: uniqueName(), image: h.image, entrypoint: PROGRAMS.printThenWait, labels: h.labels });
        assert.equal((await h.runtime.inspectContainer(plain))?.mounts, undefined, 'no mounts reported when none were asked');
        await h.runtime.removeContainer(plain);
        await assert.rejects(
          h.runtime.createContainer({
            name: uniqueName(),
            image: h.image,
            labels: h.labels,
            mounts: [{ hostPath: join(dir, 'absent'), containerPath: '/data', readOnly: false }],
          }),
          /does not exist/,
        );
        await assert.rejects(
          h.runtime.createContainer({
            name: uniqueName(),
            image: h.image,
            labels: h.labels,
            mounts: [
              { hostPath: dir, containerPath: '/data', readOnly: false },
              { hostPath: dir, containerPath: '/data', readOnly: true },
            ],
          }),
          /[Dd]uplicate mount point/,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('tells present images from missing ones, and fails pulls it cannot do', async () => {
      assert.match((await h.runtime.imageId(h.image)) ?? '', /^sha256:/);
      assert.equal(await h.runtime.imageId('mesh.local/does-not-exist:1'), undefined);
      await assert.rejects(h.runtime.pullImage('mesh.local/does-not-exist:1'), (err: Error) => err.message.length > 0);
      const info = await h.runtime.info();
      assert.ok(info.name.length > 0 && info.version.length > 0);
    });
  });
}
