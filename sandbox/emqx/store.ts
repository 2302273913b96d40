// The emulated Mria/Mnesia database of a node and its files in the node's data dir:
//   mnesia/<node>/emulator-db.json   schema (core members) + replicated tables (cores only)
//   configs/cluster.hocon            cluster-wide config changes (PUT /configs), hocon_pp text
//   .evacuation                      a running node evacuation, resumed after a restart
import fs from 'node:fs';
import path from 'node:path';
import { parseHocon, printHocon } from '../../src/hocon/index.ts';
import type { HoconObject } from '../../src/hocon/index.ts';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/** Key/value tables, replicated between the cores of a cluster (and read by replicants). */
export class Db {
  readonly tables = new Map<string, Map<string, JsonValue>>();

  get(table: string, key: string): JsonValue | undefined {
    return this.tables.get(table)?.get(key);
  }

  list(table: string): Array<[string, JsonValue]> {
    return [...(this.tables.get(table) ?? new Map<string, JsonValue>()).entries()];
  }

  size(table: string): number {
    return this.tables.get(table)?.size ?? 0;
  }

  put(table: string, key: string, value: JsonValue): void {
    let t = this.tables.get(table);
    if (!t) this.tables.set(table, (t = new Map()));
    t.set(key, structuredClone(value));
  }

  delete(table: string, key: string): void {
    this.tables.get(table)?.delete(key);
  }

  clone(): Db {
    const d = new Db();
    for (const [name, t] of this.tables) d.tables.set(name, new Map(structuredClone([...t.entries()])));
    return d;
  }

  toJSON(): Record<string, Record<string, JsonValue>> {
    const out: Record<string, Record<string, JsonValue>> = {};
    for (const [name, t] of this.tables) out[name] = Object.fromEntries(t);
    return out;
  }

  static fromJSON(obj: unknown): Db {
    const d = new Db();
    if (obj && typeof obj === 'object') {
      for (const [name, t] of Object.entries(obj as Record<string, unknown>)) {
        if (t && typeof t === 'object')
          d.tables.set(name, new Map(Object.entries(t as Record<string, JsonValue>)));
      }
    }
    return d;
  }
}

export interface PersistedDb {
  members: string[];
  db: Db;
}

function writeAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** The files of one node incarnation under its data dir. */
export class NodeStore {
  readonly dataDir: string;
  readonly nodeName: string;
  #pending: (() => PersistedDb) | undefined;
  #scheduled = false;

  constructor(dataDir: string, nodeName: string) {
    this.dataDir = dataDir;
    this.nodeName = nodeName;
  }

  get mnesiaDir(): string {
    return path.join(this.dataDir, 'mnesia', this.nodeName);
  }

  get dbFile(): string {
    return path.join(this.mnesiaDir, 'emulator-db.json');
  }

  get clusterHoconFile(): string {
    return path.join(this.dataDir, 'configs', 'cluster.hocon');
  }

  get evacuationFile(): string {
    return path.join(this.dataDir, '.evacuation');
  }

  loadDb(): PersistedDb | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.dbFile, 'utf8');
    } catch {
      return undefined;
    }
    const obj = JSON.parse(text) as { members?: unknown; tables?: unknown };
    const members = Array.isArray(obj.members) ? obj.members.map(String) : [];
    return { members, db: Db.fromJSON(obj.tables) };
  }

  /** Schedules a write of the DB (coalesced; `flush()` writes at once). */
  saveDb(snapshot: () => PersistedDb): void {
    this.#pending = snapshot;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.flush();
    });
  }

  flush(): void {
    const snap = this.#pending;
    this.#pending = undefined;
    if (!snap) return;
    const { members, db } = snap();
    try {
      writeAtomic(this.dbFile, `${JSON.stringify({ members, tables: db.toJSON() })}\n`);
    } catch {
      // the data dir vanished (pod deleted under us): nothing to keep
    }
  }

  /** Removes the node's mnesia dir (what `cluster leave` does to the local copy). */
  wipeDb(): void {
    this.#pending = undefined;
    fs.rmSync(this.mnesiaDir, { recursive: true, force: true });
  }

  loadClusterHocon(): HoconObject | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.clusterHoconFile, 'utf8');
    } catch {
      return undefined;
    }
    return parseHocon(text, { source: 'cluster.hocon' });
  }

  saveClusterHocon(obj: HoconObject): void {
    try {
      writeAtomic(this.clusterHoconFile, printHocon(obj));
    } catch {
      // data dir gone
    }
  }

  loadEvacuation(): unknown {
    try {
      return JSON.parse(fs.readFileSync(this.evacuationFile, 'utf8'));
    } catch {
      return undefined;
    }
  }

  saveEvacuation(obj: unknown): void {
    try {
      if (obj === undefined) fs.rmSync(this.evacuationFile, { force: true });
      else writeAtomic(this.evacuationFile, `${JSON.stringify(obj)}\n`);
    } catch {
      // data dir gone
    }
  }
}
