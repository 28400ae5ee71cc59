// Durable state of the Automerge store in one SQLite file (node:sqlite, WAL,
// synchronous=FULL, so a COMMIT is fsync'd before it returns).
//
// - objects:    one row per live object: the materialised JSON (with its local
//               resourceVersion) for a fast restart, and the saved Automerge doc.
// - tombstones: one row per deleted (or superseded) incarnation, by uid, with
//               its last JSON and doc, so a late replicated change to it is
//               recognised and never resurrects it.
// - meta:       the resourceVersion counter.
//
// Both object tables also keep what replication reads without loading a doc:
// the create HLC (name-conflict winner), the doc's heads and change count
// (anti-entropy digests, `mesh status`).

import { mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

/** Replication facts about one saved doc. */
export interface DocFacts {
  /** Encoded create HLC; '' when unknown. */
  hlc: string;
  /** Sorted heads joined by ','. */
  heads: string;
  changes: number;
}

export interface IncarnationRow extends DocFacts {
  resource: string;
  namespace: string;
  name: string;
  uid: string;
}

export interface LiveRow extends IncarnationRow {
  json: string;
}

export type PersistOp =
  | ({ kind: 'put'; resource: string; namespace: string; name: string; uid: string; json: string; doc: Uint8Array } & DocFacts)
  | ({ kind: 'tombstone'; resource: string; namespace: string; name: string; uid: string; json: string; doc: Uint8Array; reason: string } & DocFacts)
  /** Updates a tombstone's doc (a replicated change to a deleted incarnation). */
  | ({ kind: 'tombstone-doc'; uid: string; doc: Uint8Array } & DocFacts);

export interface PersistenceOptions {
  /** An in-memory SQLite database (same code, no files, no fsync): for simulations and benchmarks. */
  inMemory?: boolean;
  /** The databaseId of a new database; random by default. Simulations fix it to replay a seed exactly. */
  databaseId?: string;
}

export interface StorePersistence {
  /** A random value made when the database was created; never changes afterwards. */
  databaseId(): string;
  resourceVersion(): number;
  loadLive(): LiveRow[];
  loadTombstones(): IncarnationRow[];
  /** Saved doc bytes of a live object or tombstone, by uid. */
  docBytes(uid: string): Uint8Array | undefined;
  isTombstoned(uid: string): boolean;
  /** Applies all ops and the new counter in one durable transaction. */
  commit(ops: PersistOp[], resourceVersion: number): void;
  close(): void;
}

const FACT_COLUMNS = [`hlc TEXT NOT NULL DEFAULT ''`, `heads TEXT NOT NULL DEFAULT ''`, `changes INTEGER NOT NULL DEFAULT 0`];

export function openStorePersistence(dataDir: string, popts: PersistenceOptions = {}): StorePersistence {
  let db: DatabaseSync;
  if (popts.inMemory) db = new DatabaseSync(':memory:');
  else {
    mkdirSync(dataDir, { recursive: true });
    db = new DatabaseSync(join(dataDir, 'store.sqlite'));
  }
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS objects (
      resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
      uid TEXT NOT NULL UNIQUE, json TEXT NOT NULL, doc BLOB NOT NULL,
      PRIMARY KEY (resource, namespace, name));
    CREATE TABLE IF NOT EXISTS tombstones (
      uid TEXT PRIMARY KEY, resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
      json TEXT NOT NULL, doc BLOB NOT NULL, reason TEXT NOT NULL);
  `);
  // Databases made before replication lack the fact columns.
  for (const table of ['objects', 'tombstones']) {
    const have = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((r) => r.name));
    for (const col of FACT_COLUMNS) if (!have.has(col.split(' ')[0])) db.exec(`ALTER TABLE ${table} ADD COLUMN ${col}`);
  }

  db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('databaseId', ?)`).run(popts.databaseId ?? randomUUID());
  const id = (db.prepare(`SELECT value FROM meta WHERE key = 'databaseId'`).get() as { value: string }).value;

  const s = {
    getRv: db.prepare(`SELECT value FROM meta WHERE key = 'resourceVersion'`),
    setRv: db.prepare(`INSERT INTO meta (key, value) VALUES ('resourceVersion', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
    loadLive: db.prepare(`SELECT resource, namespace, name, uid, json, hlc, heads, changes FROM objects`),
    loadTombs: db.prepare(`SELECT resource, namespace, name, uid, hlc, heads, changes FROM tombstones`),
    liveDoc: db.prepare(`SELECT doc FROM objects WHERE uid = ?`),
    tombDoc: db.prepare(`SELECT doc FROM tombstones WHERE uid = ?`),
    isTomb: db.prepare(`SELECT 1 AS x FROM tombstones WHERE uid = ?`),
    put: db.prepare(
      `INSERT INTO objects (resource, namespace, name, uid, json, doc, hlc, heads, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(resource, namespace, name) DO UPDATE SET uid = excluded.uid, json = excluded.json, doc = excluded.doc,
         hlc = excluded.hlc, heads = excluded.heads, changes = excluded.changes`,
    ),
    removeLive: db.prepare(`DELETE FROM objects WHERE uid = ?`),
    tomb: db.prepare(
      `INSERT OR REPLACE INTO tombstones (uid, resource, namespace, name, json, doc, reason, hlc, heads, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    tombDocUpdate: db.prepare(`UPDATE tombstones SET doc = ?, heads = ?, changes = ? WHERE uid = ?`),
  } satisfies Record<string, StatementSync>;

  return {
    databaseId() {
      return id;
    },

    resourceVersion() {
      const row = s.getRv.get() as { value: string } | undefined;
      return row ? Number(row.value) : 0;
    },

    loadLive() {
      return s.loadLive.all() as unknown as LiveRow[];
    },

    loadTombstones() {
      return s.loadTombs.all() as unknown as IncarnationRow[];
    },

    docBytes(uid) {
      const row = (s.liveDoc.get(uid) ?? s.tombDoc.get(uid)) as { doc: Uint8Array } | undefined;
      return row?.doc;
    },

    isTombstoned(uid) {
      return s.isTomb.get(uid) !== undefined;
    },

    commit(ops, rv) {
      db.exec('BEGIN IMMEDIATE');
      try {
        for (const op of ops) {
          if (op.kind === 'put') s.put.run(op.resource, op.namespace, op.name, op.uid, op.json, op.doc, op.hlc, op.heads, op.changes);
          else if (op.kind === 'tombstone') {
            s.removeLive.run(op.uid);
            s.tomb.run(op.uid, op.resource, op.namespace, op.name, op.json, op.doc, op.reason, op.hlc, op.heads, op.changes);
          } else s.tombDocUpdate.run(op.doc, op.heads, op.changes, op.uid);
        }
        s.setRv.run(String(rv));
        db.exec('COMMIT');
      } catch (err) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw err;
      }
    },

    close() {
      db.close();
    },
  };
}
