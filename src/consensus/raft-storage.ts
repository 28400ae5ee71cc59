// Durable Raft state: the hard state, the log and the newest snapshot. The
// SQLite implementation uses WAL with synchronous=FULL, so save() returning
// means the Ready's state is fsync'd: only then may its messages be sent. The
// memory implementation has the same semantics without a disk (simulations,
// tests) and is checked against the same contract suite.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { ConfState, Entry, HardState, Ready, Snapshot } from './raft-types.ts';

/** What a restarted node starts from (RaftStart without the founding configuration). */
export interface StoredRaftState {
  hardState: HardState;
  snapshot?: Snapshot;
  /** Entries after the snapshot (or from index 1), in index order. */
  entries: Entry[];
}

export interface RaftStorage {
  load(): StoredRaftState;
  /** Persists a Ready's snapshot, entries and hard state in one durable transaction. */
  save(ready: Pick<Ready, 'hardState' | 'entries' | 'snapshot'>): void;
  /** Stores a snapshot the local state machine took and drops the entries it covers; an older one is ignored. */
  compact(snapshot: Snapshot): void;
  close(): void;
}

export interface RaftStorageOptions {
  /**
   * Tests: every save/compact blocks the thread for this long, like a slow
   * fsync does with a synchronous SQLite commit.
   */
  slowDiskMs?: number;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: '', commit: 0 }) as HardState;

/** Blocks the thread: a synchronous fsync on a slow disk blocks it the same way. */
function blockFor(ms: number | undefined): void {
  if (!ms || ms <= 0) return;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Checks that a batch is contiguous and does not leave a hole after what is stored. */
function checkAppend(entries: Entry[], lastIndex: number, snapshotIndex: number): void {
  if (entries.length === 0) return;
  const first = entries[0]!.index;
  if (first <= snapshotIndex) throw new Error(`raft storage: entry ${first} is covered by the snapshot at ${snapshotIndex}`);
  if (first > lastIndex + 1) throw new Error(`raft storage: entry ${first} leaves a gap after ${lastIndex}`);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.index !== first + i) throw new Error(`raft storage: entries are not contiguous at ${entries[i]!.index}`);
  }
}

const clone = <T>(v: T): T => structuredClone(v);

export function createMemoryRaftStorage(opts: RaftStorageOptions = {}): RaftStorage {
  let hardState: HardState = { ...EMPTY_HARD_STATE };
  let snapshot: Snapshot | undefined;
  let entries: Entry[] = [];
  const snapIndex = () => snapshot?.index ?? 0;
  const lastIndex = () => (entries.length > 0 ? entries[entries.length - 1]!.index : snapIndex());

  return {
    load() {
      const out: StoredRaftState = { hardState: { ...hardState }, entries: clone(entries) };
      if (snapshot) out.snapshot = clone(snapshot);
      return out;
    },

    save(ready) {
      blockFor(opts.slowDiskMs);
      // Validate everything before changing anything, so a bad Ready leaves the state as it was.
      let nextEntries = entries;
      let nextSnapshot = snapshot;
      if (ready.snapshot) {
        const s = ready.snapshot;
        const at = nextEntries.find((e) => e.index === s.index);
        nextEntries = at && at.term === s.term ? nextEntries.filter((e) => e.index > s.index) : [];
        nextSnapshot = clone(s);
      }
      if (ready.entries.length > 0) {
        const last = nextEntries.length > 0 ? nextEntries[nextEntries.length - 1]!.index : (nextSnapshot?.index ?? 0);
        checkAppend(ready.entries, last, nextSnapshot?.index ?? 0);
        const first = ready.entries[0]!.index;
        nextEntries = [...nextEntries.filter((e) => e.index < first), ...clone(ready.entries)];
      }
      entries = nextEntries;
      snapshot = nextSnapshot;
      if (ready.hardState) hardState = { ...ready.hardState };
    },

    compact(s) {
      blockFor(opts.slowDiskMs);
      if (s.index <= snapIndex()) return;
      if (s.index > lastIndex()) throw new Error(`raft storage: cannot compact to ${s.index} beyond the last index ${lastIndex()}`);
      snapshot = clone(s);
      entries = entries.filter((e) => e.index > s.index);
    },

    close() {},
  };
}

export interface SqliteRaftStorageOptions extends RaftStorageOptions {
  /** The database file (its directory is created); ':memory:' for a throwaway database. */
  path: string;
}

interface EntryRow {
  idx: number;
  entry: string;
}

interface SnapshotRow {
  idx: number;
  term: number;
  conf: string;
  data: string;
}

export function createSqliteRaftStorage(opts: SqliteRaftStorageOptions): RaftStorage {
  if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
  const db = new DatabaseSync(opts.path);
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    CREATE TABLE IF NOT EXISTS hard_state (id INTEGER PRIMARY KEY CHECK (id = 1),
      term INTEGER NOT NULL, vote TEXT NOT NULL, commit_index INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, entry TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1),
      idx INTEGER NOT NULL, term INTEGER NOT NULL, conf TEXT NOT NULL, data TEXT NOT NULL);
  `);

  const s = {
    getHard: db.prepare(`SELECT term, vote, commit_index FROM hard_state WHERE id = 1`),
    putHard: db.prepare(
      `INSERT INTO hard_state (id, term, vote, commit_index) VALUES (1, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET term = excluded.term, vote = excluded.vote, commit_index = excluded.commit_index`,
    ),
    getSnap: db.prepare(`SELECT idx, term, conf, data FROM snapshot WHERE id = 1`),
    getSnapIndex: db.prepare(`SELECT idx FROM snapshot WHERE id = 1`),
    putSnap: db.prepare(
      `INSERT INTO snapshot (id, idx, term, conf, data) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET idx = excluded.idx, term = excluded.term, conf = excluded.conf, data = excluded.data`,
    ),
    entriesAfter: db.prepare(`SELECT idx, entry FROM entries WHERE idx > ? ORDER BY idx`),
    termAt: db.prepare(`SELECT term FROM entries WHERE idx = ?`),
    lastIndex: db.prepare(`SELECT MAX(idx) AS idx FROM entries`),
    deleteFrom: db.prepare(`DELETE FROM entries WHERE idx >= ?`),
    deleteUpTo: db.prepare(`DELETE FROM entries WHERE idx <= ?`),
    deleteAll: db.prepare(`DELETE FROM entries`),
    insert: db.prepare(`INSERT INTO entries (idx, term, entry) VALUES (?, ?, ?)`),
  } satisfies Record<string, StatementSync>;

  const snapIndex = () => (s.getSnapIndex.get() as { idx: number } | undefined)?.idx ?? 0;
  const lastIndex = () => Math.max((s.lastIndex.get() as { idx: number | null }).idx ?? 0, snapIndex());

  function tx(fn: () => void): void {
    db.exec('BEGIN IMMEDIATE');
    try {
      fn();
      db.exec('COMMIT');
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }

  function putSnapshot(snap: Snapshot): void {
    s.putSnap.run(snap.index, snap.term, JSON.stringify(snap.conf), snap.data);
  }

  return {
    load() {
      const hard = s.getHard.get() as { term: number; vote: string; commit_index: number } | undefined;
      const snapRow = s.getSnap.get() as SnapshotRow | undefined;
      const out: StoredRaftState = {
        hardState: hard ? { term: hard.term, vote: hard.vote, commit: hard.commit_index } : { ...EMPTY_HARD_STATE },
        entries: [],
      };
      if (snapRow) out.snapshot = { index: snapRow.idx, term: snapRow.term, conf: JSON.parse(snapRow.conf) as ConfState, data: snapRow.data };
      out.entries = (s.entriesAfter.all(snapRow?.idx ?? 0) as unknown as EntryRow[]).map((r) => JSON.parse(r.entry) as Entry);
      return out;
    },

    save(ready) {
      if (!ready.snapshot && ready.entries.length === 0 && !ready.hardState) return;
      blockFor(opts.slowDiskMs);
      tx(() => {
        if (ready.snapshot) {
          const snap = ready.snapshot;
          const at = s.termAt.get(snap.index) as { term: number } | undefined;
          // A log that agrees with the snapshot keeps its tail; one that does not is replaced entirely.
          if (at && at.term === snap.term) s.deleteUpTo.run(snap.index);
          else s.deleteAll.run();
          putSnapshot(snap);
        }
        if (ready.entries.length > 0) {
          checkAppend(ready.entries, lastIndex(), snapIndex());
          s.deleteFrom.run(ready.entries[0]!.index);
          for (const e of ready.entries) s.insert.run(e.index, e.term, JSON.stringify(e));
        }
        if (ready.hardState) s.putHard.run(ready.hardState.term, ready.hardState.vote, ready.hardState.commit);
      });
    },

    compact(snap) {
      blockFor(opts.slowDiskMs);
      tx(() => {
        if (snap.index <= snapIndex()) return;
        const last = lastIndex();
        if (snap.index > last) throw new Error(`raft storage: cannot compact to ${snap.index} beyond the last index ${last}`);
        putSnapshot(snap);
        s.deleteUpTo.run(snap.index);
      });
    },

    close() {
      if (db.isOpen) db.close();
    },
  };
}
