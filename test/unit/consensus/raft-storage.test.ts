// One contract suite for every RaftStorage: memory and SQLite (plus SQLite's durability across reopen).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createMemoryRaftStorage, createSqliteRaftStorage, type RaftStorage } from '../../../src/consensus/raft-storage.ts';
import type { Entry, Snapshot } from '../../../src/consensus/raft-types.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mesh-raft-storage-'));
  dirs.push(d);
  return d;
}

const normal = (index: number, term: number, data = `c${index}`): Entry => ({ index, term, type: 'normal', data });
const range = (from: number, to: number, term: number): Entry[] => {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(normal(i, term));
  return out;
};
const indexes = (s: RaftStorage) => s.load().entries.map((e) => `${e.index}@${e.term}`);
const snap = (index: number, term: number, data = `state@${index}`): Snapshot => ({ index, term, conf: { voters: ['a', 'b', 'c'], learners: ['d'] }, data });

function contract(name: string, make: () => Promise<RaftStorage>): void {
  describe(`raft storage contract: ${name}`, () => {
    it('starts empty', async () => {
      const s = await make();
      assert.deepEqual(s.load(), { hardState: { term: 0, vote: '', commit: 0 }, entries: [] });
      s.close();
    });

    it('stores the hard state and entries of all three kinds', async () => {
      const s = await make();
      const entries: Entry[] = [
        { index: 1, term: 1, type: 'empty' },
        { index: 2, term: 1, type: 'conf', change: { type: 'add-learner', node: 'd' } },
        normal(3, 1, '{"op":"set","k":"x"}'),
      ];
      s.save({ hardState: { term: 1, vote: 'a', commit: 2 }, entries });
      assert.deepEqual(s.load(), { hardState: { term: 1, vote: 'a', commit: 2 }, entries });
      // A Ready without a hard state leaves the stored one alone.
      s.save({ entries: [normal(4, 1)] });
      const loaded = s.load();
      assert.deepEqual(loaded.hardState, { term: 1, vote: 'a', commit: 2 });
      assert.equal(loaded.entries.length, 4);
      s.close();
    });

    it('replaces a conflicting suffix', async () => {
      const s = await make();
      s.save({ entries: range(1, 6, 1) });
      s.save({ hardState: { term: 3, vote: 'b', commit: 3 }, entries: range(4, 5, 3) });
      assert.deepEqual(indexes(s), ['1@1', '2@1', '3@1', '4@3', '5@3']);
      // Overwriting from the very first index works too.
      s.save({ entries: [normal(1, 4)] });
      assert.deepEqual(indexes(s), ['1@4']);
      s.close();
    });

    it('refuses a batch that leaves a gap, and keeps what it had', async () => {
      const s = await make();
      s.save({ entries: range(1, 3, 1) });
      assert.throws(() => s.save({ hardState: { term: 9, vote: 'x', commit: 9 }, entries: range(5, 6, 1) }), /gap/);
      assert.deepEqual(indexes(s), ['1@1', '2@1', '3@1']);
      assert.equal(s.load().hardState.term, 0);
      s.close();
    });

    it('a received snapshot that matches the log keeps the tail after it', async () => {
      const s = await make();
      s.save({ entries: range(1, 8, 2) });
      s.save({ snapshot: snap(5, 2), hardState: { term: 2, vote: '', commit: 5 }, entries: [] });
      const loaded = s.load();
      assert.deepEqual(loaded.snapshot, snap(5, 2));
      assert.deepEqual(indexes(s), ['6@2', '7@2', '8@2']);
      s.close();
    });

    it('a received snapshot that disagrees with the log drops the whole log, and entries may follow it', async () => {
      const s = await make();
      s.save({ entries: range(1, 8, 1) });
      s.save({ snapshot: snap(5, 3), entries: range(6, 7, 3) });
      assert.deepEqual(s.load().snapshot, snap(5, 3));
      assert.deepEqual(indexes(s), ['6@3', '7@3']);
      // An entry the snapshot covers is refused.
      assert.throws(() => s.save({ entries: [normal(5, 3)] }), /snapshot/);
      s.close();
    });

    it('a snapshot beyond the log on an empty node (a new learner)', async () => {
      const s = await make();
      s.save({ snapshot: snap(100, 4), hardState: { term: 4, vote: '', commit: 100 }, entries: [] });
      assert.deepEqual(s.load(), { hardState: { term: 4, vote: '', commit: 100 }, snapshot: snap(100, 4), entries: [] });
      s.save({ entries: [normal(101, 4)] });
      assert.deepEqual(indexes(s), ['101@4']);
      s.close();
    });

    it('compact stores the snapshot and drops the entries it covers; an older one is ignored', async () => {
      const s = await make();
      s.save({ entries: range(1, 10, 1) });
      s.compact(snap(4, 1));
      assert.deepEqual(indexes(s), ['5@1', '6@1', '7@1', '8@1', '9@1', '10@1']);
      s.compact(snap(7, 1, 'newer'));
      assert.equal(s.load().snapshot?.data, 'newer');
      s.compact(snap(6, 1, 'older'));
      assert.equal(s.load().snapshot?.data, 'newer');
      assert.deepEqual(indexes(s), ['8@1', '9@1', '10@1']);
      assert.throws(() => s.compact(snap(11, 1)), /beyond/);
      // Appending after a compaction continues the log.
      s.save({ entries: [normal(11, 2)] });
      assert.deepEqual(indexes(s), ['8@1', '9@1', '10@1', '11@2']);
      s.close();
    });

    it('returns copies, not its own state', async () => {
      const s = await make();
      const e = [normal(1, 1)];
      s.save({ entries: e });
      (e[0] as { data: string }).data = 'mutated';
      const loaded = s.load();
      assert.equal((loaded.entries[0] as { data: string }).data, 'c1');
      (loaded.entries[0] as { data: string }).data = 'mutated';
      assert.equal((s.load().entries[0] as { data: string }).data, 'c1');
      s.close();
    });

    it('a slow disk delays save and compact', async () => {
      const s = await make();
      const slow = name === 'memory' ? createMemoryRaftStorage({ slowDiskMs: 30 }) : createSqliteRaftStorage({ path: join(await tempDir(), 'slow.sqlite'), slowDiskMs: 30 });
      const t0 = performance.now();
      slow.save({ entries: range(1, 2, 1) });
      slow.compact(snap(1, 1));
      assert.ok(performance.now() - t0 >= 55, 'two operations took at least two delays');
      assert.deepEqual(indexes(slow), ['2@1']);
      slow.close();
      s.close();
    });
  });
}

contract('memory', async () => createMemoryRaftStorage());
contract('sqlite', async () => createSqliteRaftStorage({ path: join(await tempDir(), 'raft.sqlite') }));

describe('sqlite raft storage durability', () => {
  it('keeps everything across close and reopen', async () => {
    const path = join(await tempDir(), 'nested', 'raft.sqlite');
    const first = createSqliteRaftStorage({ path });
    first.save({ hardState: { term: 5, vote: 'c', commit: 7 }, entries: range(1, 9, 5) });
    first.compact(snap(3, 5));
    first.close();
    const second = createSqliteRaftStorage({ path });
    const loaded = second.load();
    assert.deepEqual(loaded.hardState, { term: 5, vote: 'c', commit: 7 });
    assert.deepEqual(loaded.snapshot, snap(3, 5));
    assert.deepEqual(loaded.entries, range(4, 9, 5));
    second.close();
  });

  it('uses a WAL journal', async () => {
    const path = join(await tempDir(), 'raft.sqlite');
    createSqliteRaftStorage({ path }).close();
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(path);
    assert.equal((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
    db.close();
  });
});
