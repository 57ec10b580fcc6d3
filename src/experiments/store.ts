/**
 * Finished cells on disk: DIR/cells/<id>.json, each written atomically
 * (temporary file, fsync, rename), so an interrupted run leaves only whole
 * cells and a re-run skips them.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { cellId, cellLabel, CELL_VERSION, type CellResult, type CellSpec } from "./cells.js";
import { canonicalJson } from "../util/canonical-json.js";

interface StoredCell {
  version: number;
  id: string;
  label: string;
  /** The cell's identity text (checked on reading: a hash collision or a stale file is not reused). */
  identity: string;
  result: CellResult;
}

export class CellStore {
  readonly dir: string;

  constructor(outDir: string) {
    this.dir = join(outDir, "cells");
    mkdirSync(this.dir, { recursive: true });
  }

  private path(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /** The stored result of a cell, or undefined when it has not finished (or was stored by other code). */
  get(spec: CellSpec): CellResult | undefined {
    const id = cellId(spec), p = this.path(id);
    if (!existsSync(p)) return undefined;
    try {
      const s = JSON.parse(readFileSync(p, "utf8")) as StoredCell;
      if (s.version !== CELL_VERSION || s.id !== id || s.identity !== identityText(spec)) return undefined;
      return s.result;
    } catch {
      return undefined; // unreadable: run the cell again (the write is atomic, so this is not a half-written cell)
    }
  }

  put(spec: CellSpec, result: CellResult): void {
    const id = cellId(spec);
    const s: StoredCell = { version: CELL_VERSION, id, label: cellLabel(spec), identity: identityText(spec), result };
    writeFileAtomic(this.path(id), new TextEncoder().encode(JSON.stringify(s) + "\n"));
  }
}

function identityText(spec: CellSpec): string {
  return canonicalJson({ kind: spec.kind, data: spec.dataset.identity, settings: spec.settings, ...(spec.kind === "prune" ? { targets: spec.targets, ks: spec.ks } : {}) });
}
