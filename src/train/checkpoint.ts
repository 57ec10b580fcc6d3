import { readdirSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { decodeEnvelope, envelopeChunks } from "../io/envelope.js";
import { TMP_PREFIX, writeFileAtomic } from "../io/atomic.js";
import type { CtrModel, TrainPosition, TrainSettings } from "./trainer.js";
import { assembleModel } from "./restore.js";
import { minParamValues, named } from "../serve/model-file.js";
import { isModelName, type ModelConfig } from "../models/index.js";
import { resolveConfig } from "../models/config.js";
import { MAX_SHARDS } from "../optim/sharded.js";

/** The checkpoint file of an output folder. */
export const CHECKPOINT_FILE = "checkpoint.sparsectr-state";

/** Identity of the training data: a resumed run refuses a file that changed. */
export interface DataIdentity { path: string; size: number; mtimeMs: number }

/** What a checkpoint records beside the model's state. */
export interface CheckpointMeta {
  settings: TrainSettings;
  fields: string[];
  format: string;
  params: string[];
  position: TrainPosition;
  /** The command's options, so that `--resume` needs nothing else. */
  args: Record<string, string | true>;
  data: DataIdentity;
  /** Anything else the caller wants back (e.g. the input spec). */
  extra?: Record<string, unknown>;
}

/** The identity of a data file now. */
export function dataIdentity(path: string): DataIdentity {
  const s = statSync(path);
  return { path, size: s.size, mtimeMs: s.mtimeMs };
}

/**
 * Writes the complete training state (every table's and dense parameter's
 * weights and optimizer moments and step counts, the position in the data,
 * the settings and options) to DIR/checkpoint.sparsectr-state, atomically:
 * the previous checkpoint stays until the new one is complete on disk. The
 * file is one checksummed envelope of checksummed parts.
 */
export function writeCheckpoint(dir: string, m: CtrModel, meta: CheckpointMeta): void {
  const tables = m.tables.map((t) => t.save()), dense = m.dense.map((d) => d.save());
  const header = { kind: "checkpoint", version: 1, ...meta, tableBytes: tables.map((b) => b.length), denseBytes: dense.map((b) => b.length) };
  writeFileAtomic(join(dir, CHECKPOINT_FILE), envelopeChunks(header, [...tables, ...dense]));
}

/** Whether an output folder has a checkpoint. */
export function hasCheckpoint(dir: string): boolean {
  try { return statSync(join(dir, CHECKPOINT_FILE)).isFile(); } catch { return false; }
}

/**
 * Reads DIR's checkpoint and rebuilds the model exactly as it was. A
 * truncated, corrupt or inconsistent file is an error naming what is wrong
 * (never a partial model).
 */
export function readCheckpoint(dir: string): { model: CtrModel; meta: CheckpointMeta } {
  const path = join(dir, CHECKPOINT_FILE);
  let bytes: Uint8Array;
  try { bytes = readFileSync(path); } catch (e) { throw new Error(`${dir}: no checkpoint to resume from (${(e as Error).message})`); }
  return decodeCheckpoint(bytes, path);
}

/** {@link readCheckpoint} on bytes already read. */
export function decodeCheckpoint(bytes: Uint8Array, what: string): { model: CtrModel; meta: CheckpointMeta } {
  const { header: h, body } = decodeEnvelope(bytes, what);
  if (h.kind !== "checkpoint" || h.version !== 1) throw new RangeError(`${what}: kind/version ${String(h.kind)}/${String(h.version)} is not checkpoint/1`);
  const sizes = (k: string): number[] => {
    const v = h[k];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "number" || !Number.isSafeInteger(x) || x < 16)) throw new RangeError(`${what}: header field ${k} is not a list of part sizes`);
    return v as number[];
  };
  const tb = sizes("tableBytes"), db = sizes("denseBytes");
  const total = [...tb, ...db].reduce((s, x) => s + x, 0);
  if (total !== body.length) throw new RangeError(`${what}: the parts add up to ${total} bytes, the body holds ${body.length}`);
  const meta = h as unknown as CheckpointMeta;
  checkMeta(meta, what);
  // The model is built from the settings before the saved states are compared
  // with it: bound its size by the dense states' bytes first.
  const s = meta.settings;
  const config = named(what, () => resolveConfig(s.model, { ...(s.modelConfig ?? {}), fields: meta.fields.length, seed: s.seed ?? 0 } as ModelConfig));
  const needed = minParamValues(s.model, config), stored = db.reduce((a, n) => a + n, 0) / 4;
  if (!(needed <= stored)) throw new RangeError(`${what}: the ${s.model} settings need ${needed} dense parameter values, the dense states hold at most ${Math.floor(stored)}`);
  let o = 0;
  const cut = (n: number): Uint8Array => body.subarray(o, (o += n));
  const tables = tb.map(cut), dense = db.map(cut);
  const model = named(what, () => assembleModel(s, meta.fields.length, meta.params, tables, dense, what));
  return { model, meta };
}

function checkMeta(m: CheckpointMeta, what: string): void {
  const p = m.position as unknown as Record<string, unknown>;
  if (p === null || typeof p !== "object") throw new RangeError(`${what}: no position`);
  for (const k of ["epoch", "seen", "rows", "steps", "lossRows", "skippedBatches"]) {
    if (typeof p[k] !== "number" || !Number.isSafeInteger(p[k]) || (p[k] as number) < 0) throw new RangeError(`${what}: position.${k} = ${JSON.stringify(p[k])} is not a count`);
  }
  if (typeof p.lossSum !== "number" || typeof p.done !== "boolean") throw new RangeError(`${what}: position.lossSum/done are missing`);
  if (!Array.isArray(m.fields) || m.fields.some((f) => typeof f !== "string")) throw new RangeError(`${what}: fields is not a list of names`);
  if (!Array.isArray(m.params) || m.params.some((f) => typeof f !== "string")) throw new RangeError(`${what}: params is not a list of names`);
  const s = m.settings as unknown as Record<string, unknown>;
  if (s === null || typeof s !== "object" || Array.isArray(s)) throw new RangeError(`${what}: no settings`);
  if (typeof s.model !== "string" || !isModelName(s.model)) throw new RangeError(`${what}: settings.model ${JSON.stringify(s.model)} is not a model`);
  if (s.modelConfig !== undefined && (s.modelConfig === null || typeof s.modelConfig !== "object" || Array.isArray(s.modelConfig))) throw new RangeError(`${what}: settings.modelConfig is not an object`);
  // (shards before the model is built: it makes that many tables, then checks the count.)
  for (const [k, max] of [["batch", 2 ** 20], ["epochs", 2 ** 31], ["seed", 0xffffffff], ["shards", MAX_SHARDS]] as const) {
    const v = s[k];
    if (v !== undefined && (typeof v !== "number" || !Number.isSafeInteger(v) || v < (k === "seed" ? 0 : 1) || v > max)) throw new RangeError(`${what}: settings.${k} = ${JSON.stringify(v)} is not an integer in [${k === "seed" ? 0 : 1}, ${max}]`);
  }
  if (s.dense !== undefined && s.dense !== "plain" && s.dense !== "group") throw new RangeError(`${what}: settings.dense = ${JSON.stringify(s.dense)} is not "plain" or "group"`);
  if (m.args === null || typeof m.args !== "object" || Array.isArray(m.args)) throw new RangeError(`${what}: no recorded options`);
  for (const [k, v] of Object.entries(m.args)) if (typeof v !== "string" && v !== true) throw new RangeError(`${what}: recorded option --${k} = ${JSON.stringify(v)} is not a string or true`);
  const d = m.data as unknown as Record<string, unknown>;
  if (d === null || typeof d !== "object" || typeof d.path !== "string" || typeof d.size !== "number" || typeof d.mtimeMs !== "number") throw new RangeError(`${what}: no data identity`);
}

/** Removes temporary files a killed write left in the folder; returns how many. */
export function removeStaleTemporaries(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) {
    if (f.startsWith(TMP_PREFIX) && f.endsWith(".tmp")) {
      try { unlinkSync(join(dir, f)); n++; } catch { /* raced with another cleaner */ }
    }
  }
  return n;
}
