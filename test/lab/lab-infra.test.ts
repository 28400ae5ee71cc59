// The lab's infrastructure without agents: namespaces on one bridge, a dockerd
// per host with its docker0 on its own 172.30.N.0/24 (10.244.0.0/16 belongs to
// the agents' pod networks), cut/heal, and a `down` that leaves nothing behind.
// Traffic goes only to the lab's own hosts and the containers started here.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { waitFor } from '../support/agent-process.ts';
import { BUSYBOX_IMAGE, LAB_BRIDGE, LAB_SCRIPT, LAB_GATEWAY, LAB_RUN, LAB_VAR, host, lab, labDown, labUp, runCommand, type LabHost } from '../support/lab.ts';

const N = 3;

async function ping(from: LabHost, ip: string): Promise<boolean> {
  // Bounded: one packet, one second.
  const r = await from.exec(['busybox', 'ping', '-c', '1', '-W', '1', ip]);
  return r.code === 0;
}

async function sh(cmd: string, args: string[]): Promise<string> {
  const r = await runCommand(cmd, args);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Processes whose command line names the lab's directories. */
function labProcesses(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    if (Number(pid) === process.pid) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue; // exited meanwhile
    }
    if (cmdline.includes(LAB_RUN) || cmdline.includes(LAB_VAR)) found.push(`${pid}: ${cmdline}`);
  }
  return found;
}

async function leftovers(): Promise<string[]> {
  const out: string[] = [];
  const netns = (await sh('ip', ['netns', 'list'])).split('\n').filter((l) => l.startsWith('mesh-lab-'));
  out.push(...netns.map((l) => `netns ${l}`));
  const links = (await sh('ip', ['-o', 'link', 'show'])).split('\n').filter((l) => /: (mlab-h\d+|mesh-lab0)[@:]/.test(l));
  out.push(...links.map((l) => `link ${l.split(':')[1]!.trim()}`));
  out.push(...labProcesses().map((p) => `process ${p}`));
  for (const dir of [LAB_RUN, LAB_VAR]) if (existsSync(dir)) out.push(`directory ${dir}`);
  for (const ctl of readdirSync('/sys/fs/cgroup')) {
    try {
      out.push(...readdirSync(`/sys/fs/cgroup/${ctl}`).filter((d) => d.startsWith('mesh-lab-h')).map((d) => `cgroup ${ctl}/${d}`));
    } catch {
      // not a directory (cgroup v1 files at the top)
    }
  }
  const rules = (await sh('iptables', ['-w', '-S', 'FORWARD'])).split('\n').filter((l) => l.includes('mesh-lab'));
  out.push(...rules.map((r) => `iptables ${r}`));
  return out;
}

describe('lab infrastructure (namespaces, bridge, dockerd per host)', () => {
  const hosts: LabHost[] = [];

  before(async () => {
    hosts.push(...(await labUp(N, { agents: false })));
  });
  after(async () => {
    await labDown();
  });

  it(`creates ${N} hosts, each in its own namespace at 10.77.0.(10+N) on ${LAB_BRIDGE}`, async () => {
    const netns = await sh('ip', ['netns', 'list']);
    for (const h of hosts) {
      assert.match(netns, new RegExp(`^${h.netns}\\b`, 'm'));
      const addr = await h.exec(['ip', '-o', '-4', 'addr', 'show', 'eth0']);
      assert.match(addr.stdout, new RegExp(`inet ${h.ip.replaceAll('.', '\\.')}/24`));
      const route = await h.exec(['ip', 'route', 'show', 'default']);
      assert.match(route.stdout, new RegExp(`default via ${LAB_GATEWAY.replaceAll('.', '\\.')} dev eth0`));
      const master = await sh('ip', ['-o', 'link', 'show', `mlab-${h.name}`]);
      assert.match(master, new RegExp(`master ${LAB_BRIDGE}`));
    }
    const status = (await lab(['status'])).stdout;
    for (const h of hosts) assert.match(status, new RegExp(`^${h.name}\\s+${h.ip.replaceAll('.', '\\.')}\\s+up\\s+up \\(pid`, 'm'));
  });

  it('runs a dockerd per host that answers on its own socket and runs busybox on its docker0 /24', async () => {
    const pids = new Set<string>();
    for (const h of hosts) {
      const info = await h.docker(['info', '--format', '{{.DockerRootDir}}']);
      assert.equal(info.code, 0, info.stderr);
      assert.equal(info.stdout.trim(), `${LAB_VAR}/${h.name}/docker`);
      pids.add(readFileSync(`${LAB_RUN}/${h.name}/dockerd.pid`, 'utf8').trim());
      const r = await h.docker(['run', '--rm', BUSYBOX_IMAGE, 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
      assert.equal(r.code, 0, r.stderr);
      const third = h.docker0Cidr.split('.')[2];
      const m = /inet 172\.30\.(\d+)\.(\d+)\/24/.exec(r.stdout);
      assert.ok(m, `no docker0 address in: ${r.stdout}`);
      assert.equal(m[1], third, `${h.name}'s container got ${m[0]}, outside ${h.docker0Cidr}`);
      assert.notEqual(m[2], '1', 'the .1 is the bridge itself');
    }
    assert.equal(pids.size, N, 'every host has its own dockerd');
  });

  it('keeps each dockerd inside its namespace (its docker0 and iptables rules are not in the root namespace)', async () => {
    for (const h of hosts) {
      const br = await h.exec(['ip', '-o', '-4', 'addr', 'show', 'docker0']);
      assert.match(br.stdout, new RegExp(`inet 172\\.30\\.${h.index}\\.1/24`));
      // The pod network's range is left to the agent (none runs here).
      const all = await h.exec(['ip', '-o', '-4', 'addr', 'show']);
      assert.doesNotMatch(all.stdout, /inet 10\.244\./, `${h.name}'s dockerd took an address of the pod network`);
    }
    const rootAddrs = await sh('ip', ['-o', '-4', 'addr', 'show']);
    const rootRules = (await sh('iptables', ['-w', '-S'])) + (await sh('iptables', ['-w', '-t', 'nat', '-S']));
    for (const h of hosts) {
      const net = new RegExp(`172\\.30\\.${h.index}\\.`);
      assert.doesNotMatch(rootAddrs, net, `${h.name}'s docker0 leaked into the root namespace`);
      assert.doesNotMatch(rootRules, net, `${h.name}'s dockerd rules leaked into the root namespace`);
    }
  });

  it('drops anything routed between the lab bridge and other interfaces', async () => {
    const rules = await sh('iptables', ['-w', '-S', 'FORWARD']);
    assert.match(rules, new RegExp(`-A FORWARD -i ${LAB_BRIDGE} ! -o ${LAB_BRIDGE} .*-j DROP`));
    assert.match(rules, new RegExp(`-A FORWARD ! -i ${LAB_BRIDGE} -o ${LAB_BRIDGE} .*-j DROP`));
    assert.match(rules, new RegExp(`-A FORWARD -i ${LAB_BRIDGE} -o ${LAB_BRIDGE} .*-j ACCEPT`));
  });

  it('lets every host ping every other host across the bridge, and the root namespace reach each host', async () => {
    for (const a of hosts) {
      for (const b of hosts) {
        if (a !== b) assert.ok(await ping(a, b.ip), `${a.name} cannot ping ${b.name} (${b.ip})`);
      }
      const r = await runCommand('busybox', ['ping', '-c', '1', '-W', '1', a.ip]);
      assert.equal(r.code, 0, `the root namespace cannot ping ${a.name}: ${r.stdout}${r.stderr}`);
    }
  });

  it('cuts a host off and heals it again', async () => {
    const [h1, h2, h3] = hosts as [LabHost, LabHost, LabHost];
    await h3.cut();
    try {
      assert.equal(await ping(h1, h3.ip), false, 'h1 still reaches the cut h3');
      assert.equal(await ping(h3, h2.ip), false, 'the cut h3 still reaches h2');
      assert.ok(await ping(h1, h2.ip), 'h1 and h2 should still talk while h3 is cut');
      assert.match((await lab(['status'])).stdout, /^h3\s+\S+\s+cut\b/m);
    } finally {
      await h3.heal();
    }
    await waitFor('h1 to reach h3 after heal', () => ping(h1, h3.ip), 10_000);
    await waitFor('h3 to reach h2 after heal', () => ping(h3, h2.ip), 10_000);
  });

  it('is idempotent: a second up keeps the same dockerds', async () => {
    const before = hosts.map((h) => readFileSync(`${LAB_RUN}/${h.name}/dockerd.pid`, 'utf8').trim());
    await labUp(N, { agents: false });
    const again = hosts.map((h) => readFileSync(`${LAB_RUN}/${h.name}/dockerd.pid`, 'utf8').trim());
    assert.deepEqual(again, before);
  });

  it('refuses to shrink a running lab and names bad host numbers', async () => {
    const shrink = await runCommand(LAB_SCRIPT, ['up', '2', '--no-agents']);
    assert.notEqual(shrink.code, 0);
    assert.match(shrink.stderr, /already has host h3/);
    const bad = await runCommand(LAB_SCRIPT, ['cut', 'x']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /expected a host number/);
  });

  it('down leaves no namespace, veth, bridge, dockerd, rule or directory behind, even with containers running', async () => {
    const started = await host(2).docker(['run', '-d', BUSYBOX_IMAGE, 'sleep', '600']);
    assert.equal(started.code, 0, started.stderr);
    await labDown();
    assert.deepEqual(await leftovers(), []);
    await labDown(); // a second down is harmless
    assert.deepEqual(await leftovers(), []);
  });

  it('down cleans up after a partial up whose dockerd died hard', async () => {
    const [h1] = await labUp(1, { agents: false });
    const pid = Number(readFileSync(`${LAB_RUN}/${h1!.name}/dockerd.pid`, 'utf8'));
    process.kill(pid, 'SIGKILL'); // its containerd stays behind, orphaned
    await waitFor('the dockerd to die', async () => !existsSync(`/proc/${pid}`), 10_000);
    await labDown();
    assert.deepEqual(await leftovers(), []);
  });
});
