// Durable state of the Automerge store in one SQLite file (node:sqlite, WAL,
// synchronous=FULL, so a COMMIT is fsync'd before it returns).
//
// - objects:    one row per live object: the materialised JSON (with its local
//               resourceVersion) for a fast restart, and the saved Automerge doc.
// - tombstones: one row per deleted (or superseded) incarnation, by uid, with
//               its last JSON and doc, so a late replicated change to it is
//               recognised and never resurrects it.
// - meta:       the resourceVersion counter.

import { mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

export interface LiveRow {
  resource: string;
  namespace: string;
  name: string;
  uid: string;
  json: string;
}

export type PersistOp =
  | { kind: 'put'; resource: string; namespace: string; name: string; uid: string; json: string; doc: Uint8Array }
  | { kind: 'tombstone'; resource: string; namespace: string; name: string; uid: string; json: string; doc: Uint8Array; reason: string }
  /** Updates a tombstone's doc (a replicated change to a deleted incarnation). */
  | { kind: 'tombstone-doc'; uid: string; doc: Uint8Array };

export interface StorePersistence {
  /** A random value made when the database was created; never changes afterwards. */
  databaseId(): string;
  resourceVersion(): number;
  loadLive(): LiveRow[];
  /** Saved doc bytes of a live object or tombstone, by uid. */
  docBytes(uid: string): Uint8Array | undefined;
  isTombstoned(uid: string): boolean;
  /** Applies all ops and the new counter in one durable transaction. */
  commit(ops: PersistOp[], resourceVersion: number): void;
  close(): void;
}

export function openStorePersistence(dataDir: string): StorePersistence {
  mkdirSync(dataDir, { recursive: true });
  const db = new DatabaseSync(join(dataDir, 'store.sqlite'));
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

  db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('databaseId', ?)`).run(randomUUID());
  const id = (db.prepare(`SELECT value FROM meta WHERE key = 'databaseId'`).get() as { value: string }).value;

  const s = {
    getRv: db.prepare(`SELECT value FROM meta WHERE key = 'resourceVersion'`),
    setRv: db.prepare(`INSERT INTO meta (key, value) VALUES ('resourceVersion', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
    loadLive: db.prepare(`SELECT resource, namespace, name, uid, json FROM objects`),
    liveDoc: db.prepare(`SELECT doc FROM objects WHERE uid = ?`),
    tombDoc: db.prepare(`SELECT doc FROM tombstones WHERE uid = ?`),
    isTomb: db.prepare(`SELECT 1 AS x FROM tombstones WHERE uid = ?`),
    put: db.prepare(
      `INSERT INTO objects (resource, namespace, name, uid, json, doc) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(resource, namespace, name) DO UPDATE SET uid = excluded.uid, json = excluded.json, doc = excluded.doc`,
    ),
    removeLive: db.prepare(`DELETE FROM objects WHERE uid = ?`),
    tomb: db.prepare(`INSERT OR REPLACE INTO tombstones (uid, resource, namespace, name, json, doc, reason) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    tombDocUpdate: db.prepare(`UPDATE tombstones SET doc = ? WHERE uid = ?`),
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
          if (op.kind === 'put') s.put.run(op.resource, op.namespace, op.name, op.uid, op.json, op.doc);
          else if (op.kind === 'tombstone') {
            s.removeLive.run(op.uid);
            s.tomb.run(op.uid, op.resource, op.namespace, op.name, op.json, op.doc, op.reason);
          } else s.tombDocUpdate.run(op.doc, op.uid);
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
