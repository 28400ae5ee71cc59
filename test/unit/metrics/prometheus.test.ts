import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAgentMetrics, type AgentMetricsSources } from '../../../src/agent/metrics/prometheus.ts';
import { parsePromText } from '../../support/prom-text.ts';

function sources(over: Partial<AgentMetricsSources> = {}): AgentMetricsSources {
  return {
    storeObjects: () => ({ pods: 3, 'deployments.apps': 1 }),
    resourceVersion: () => '42',
    replication: () => ({ changes: 7, incarnations: 5 }),
    members: () => [
      { nodeName: 'self', status: 'alive', lastSeen: 10_000, self: true },
      { nodeName: 'b', status: 'alive', lastSeen: 9_500, self: false },
      { nodeName: 'c', status: 'suspect', lastSeen: 7_000, self: false },
      { nodeName: 'd', status: 'left', lastSeen: 1_000, self: false },
    ],
    pendingPods: () => 2,
    runningPods: () => 1,
    metricsNodes: () => 3,
    ...over,
  };
}

/** The first sample named `name` (a family's or a histogram's _bucket/_count/...) with these labels. */
const value = (fams: ReturnType<typeof parsePromText>, name: string, labels: Record<string, string> = {}) =>
  [...fams.values()]
    .flatMap((f) => f.samples)
    .find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

test('the exposition parses strictly and carries every source, read at scrape time', async () => {
  let rv = '42';
  const m = createAgentMetrics({ nodeName: 'self', now: () => 10_000, sources: sources({ resourceVersion: () => rv }) });
  m.observeRequest({ verb: 'LIST', resource: 'pods', code: 200, seconds: 0.003 });
  m.observeRequest({ verb: 'LIST', resource: 'pods', code: 200, seconds: 0.3 });
  m.observeRequest({ verb: 'WATCH', resource: 'pods', code: 200, seconds: 300 });
  const { contentType, text } = await m.render();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  const fams = parsePromText(text);
  assert.equal(fams.get('apiserver_request_duration_seconds')?.type, 'histogram');
  assert.equal(value(fams, 'apiserver_request_duration_seconds_count', { verb: 'LIST', resource: 'pods', code: '200' }), 2);
  assert.equal(value(fams, 'apiserver_request_duration_seconds_bucket', { verb: 'LIST', le: '0.005' }), 1);
  assert.equal(value(fams, 'apiserver_request_duration_seconds_count', { verb: 'WATCH' }), undefined, 'watches are not latency');
  assert.equal(value(fams, 'apiserver_request_total', { verb: 'WATCH' }), 1);
  assert.equal(value(fams, 'mesh_gossip_heartbeat_age_seconds', { peer: 'b' }), 0.5);
  assert.equal(value(fams, 'mesh_gossip_heartbeat_age_seconds', { peer: 'c' }), 3);
  assert.equal(value(fams, 'mesh_gossip_heartbeat_age_seconds', { peer: 'd' }), undefined, 'left members have no lag');
  assert.equal(value(fams, 'mesh_members', { status: 'alive' }), 2);
  assert.equal(value(fams, 'mesh_members', { status: 'dead' }), 0);
  assert.equal(value(fams, 'mesh_store_objects', { resource: 'pods' }), 3);
  assert.equal(value(fams, 'mesh_store_objects', { resource: 'deployments.apps' }), 1);
  assert.equal(value(fams, 'mesh_store_resource_version'), 42);
  assert.equal(value(fams, 'mesh_replication_changes'), 7);
  assert.equal(value(fams, 'mesh_replication_incarnations'), 5);
  assert.equal(value(fams, 'mesh_scheduler_pending_pods'), 2);
  assert.equal(value(fams, 'kubelet_running_pods'), 1);
  assert.equal(value(fams, 'mesh_metrics_nodes'), 3);
  assert.ok(fams.has('process_cpu_user_seconds_total') && fams.has('nodejs_heap_size_used_bytes'), 'process metrics');
  assert.equal(value(fams, 'mesh_store_objects', { node: 'self' }), 3, 'every series carries the node');

  rv = '43';
  assert.equal(value(parsePromText((await m.render()).text), 'mesh_store_resource_version'), 43);
});

test('two agents in one process keep separate registries', async () => {
  const a = createAgentMetrics({ nodeName: 'a', sources: sources(), processMetrics: false });
  const b = createAgentMetrics({ nodeName: 'b', sources: sources(), processMetrics: false });
  a.observeRequest({ verb: 'GET', resource: 'pods', code: 200, seconds: 0.01 });
  const fb = parsePromText((await b.render()).text);
  assert.equal(fb.get('apiserver_request_total')?.samples.length, 0);
  assert.equal(fb.has('process_cpu_user_seconds_total'), false);
  assert.equal(value(parsePromText((await a.render()).text), 'apiserver_request_total', { node: 'a' }), 1);
});

test('the parser accepts the format\'s corners and rejects anything else', () => {
  const ok = parsePromText(
    '# a plain comment\n# HELP x_total Requests, with "quotes" and \\\\ slashes\n# TYPE x_total counter\n' +
      'x_total{a="q\\"uote",b="new\\nline"} 1.5e3 1700000000000\nx_total +Inf\n\n# TYPE g gauge\ng NaN\n',
  );
  assert.deepEqual(ok.get('x_total')?.samples[0]?.labels, { a: 'q"uote', b: 'new\nline' });
  assert.equal(ok.get('x_total')?.samples[0]?.value, 1500);
  assert.ok(Number.isNaN(ok.get('g')!.samples[0]!.value));
  for (const bad of [
    'orphan 1\n',
    '# TYPE x gauge\nx{a=1} 1\n',
    '# TYPE x gauge\nx{a="1"} one\n',
    '# TYPE x gauge\nx{a="1",a="2"} 1\n',
    '# TYPE x gauge\nx{a="1"}1\n',
    '# TYPE x gauge\nx 1 2 3\n',
    '# TYPE x bogus\n',
    '# TYPE x gauge\n# TYPE x counter\n',
    '# TYPE 9x gauge\n',
    '# TYPE h histogram\nh 1\n',
    '# TYPE x gauge\nx{a="\\q"} 1\n',
  ]) {
    assert.throws(() => parsePromText(bad), /line \d+/, JSON.stringify(bad));
  }
});

test('Raft and service-proxy gauges read their sources at scrape time', async () => {
  let leading = true;
  const m = createAgentMetrics({
    nodeName: 'self',
    processMetrics: false,
    sources: sources({
      raft: () => ({ term: 7, commit: 120, applied: 118, leading }),
      proxySync: () => ({ seconds: 0.012, syncs: 9, failures: 1 }),
    }),
  });
  let fams = parsePromText((await m.render()).text);
  assert.equal(value(fams, 'mesh_raft_term'), 7);
  assert.equal(value(fams, 'mesh_raft_commit_index'), 120);
  assert.equal(value(fams, 'mesh_raft_applied_index'), 118);
  assert.equal(value(fams, 'mesh_raft_leader'), 1);
  assert.equal(value(fams, 'mesh_proxy_sync_duration_seconds'), 0.012);
  assert.equal(value(fams, 'mesh_proxy_syncs', { outcome: 'failed' }), 1);
  leading = false;
  fams = parsePromText((await m.render()).text);
  assert.equal(value(fams, 'mesh_raft_leader'), 0);
});
