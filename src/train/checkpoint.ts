import { readdirSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { decodeEnvelope, envelopeChunks } from "../io/envelope.js";
import { TMP_PREFIX, writeFileAtomic } from "../io/atomic.js";
import type { CtrModel, TrainSettings } from "./model.js";
import type { TrainPosition } from "./trainer.js";
import { assembleModel } from "./restore.js";
import { copyState, type StateCopy, type ValidationRecord } from "./validation.js";
import { minParamValues } from "../models/size.js";
import { namedErrors } from "../util/named-errors.js";
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
  args: Record<string, string | true | string[]>;
  /** The training files as they were (one per file). */
  data: DataIdentity | DataIdentity[];
  /** Anything else the caller wants back (e.g. the input spec). */
  extra?: Record<string, unknown>;
  /** A validation-driven run's evaluations and early-stopping state. */
  validation?: ValidationRecord;
}

/** The identity of a data file now. */
export function dataIdentity(path: string): DataIdentity {
  const s = statSync(path);
  return { path, size: s.size, mtimeMs: s.mtimeMs };
}

/** The first file of `now` that differs from `was` (size, time or count of files), as a message; undefined when none. */
export function dataChange(was: DataIdentity | DataIdentity[], now: DataIdentity[]): string | undefined {
  const before = Array.isArray(was) ? was : [was];
  if (before.length !== now.length) return `the run had ${before.length} training files, now ${now.length}`;
  for (let i = 0; i < now.length; i++) {
    const a = before[i], b = now[i];
    if (a.size !== b.size || a.mtimeMs !== b.mtimeMs) return `${b.path} changed since the checkpoint (size ${a.size} -> ${b.size}, modified ${new Date(a.mtimeMs).toISOString()} -> ${new Date(b.mtimeMs).toISOString()})`;
  }
  return undefined;
}

/**
 * Writes the complete training state (every table's and dense parameter's
 * weights and optimizer moments and step counts, the position in the data,
 * the settings and options) to DIR/checkpoint.sparsectr-state, atomically:
 * the previous checkpoint stays until the new one is complete on disk. The
 * file is one checksummed envelope of checksummed parts.
 */
export function writeCheckpoint(dir: string, m: CtrModel, meta: CheckpointMeta, best?: StateCopy): void {
  const now = copyState(m);
  const sizes = (s: StateCopy): Record<string, unknown> => ({
    tableBytes: s.tables.map((b) => b.length), matmulBytes: s.dense.map((b) => b.length), admissionBytes: s.admission?.length ?? 0,
  });
  const header = { kind: "checkpoint", version: 1, ...meta, ...sizes(now), best: best ? sizes(best) : null };
  const parts = (s: StateCopy): Uint8Array[] => [...s.tables, ...s.dense, ...(s.admission ? [s.admission] : [])];
  writeFileAtomic(join(dir, CHECKPOINT_FILE), envelopeChunks(header, [...parts(now), ...(best ? parts(best) : [])]));
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
export function readCheckpoint(dir: string): { model: CtrModel; meta: CheckpointMeta; best?: StateCopy } {
  const path = join(dir, CHECKPOINT_FILE);
  let bytes: Uint8Array;
  try { bytes = readFileSync(path); } catch (e) { throw new Error(`${dir}: no checkpoint to resume from (${(e as Error).message})`); }
  return decodeCheckpoint(bytes, path);
}

/** {@link readCheckpoint} on bytes already read. */
export function decodeCheckpoint(bytes: Uint8Array, what: string): { model: CtrModel; meta: CheckpointMeta; best?: StateCopy } {
  const { header: h, body } = decodeEnvelope(bytes, what);
  if (h.kind !== "checkpoint" || h.version !== 1) throw new RangeError(`${what}: kind/version ${String(h.kind)}/${String(h.version)} is not checkpoint/1`);
  const sizes = (o: Record<string, unknown>, k: string): number[] => {
    const v = o[k];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "number" || !Number.isSafeInteger(x) || x < 16)) throw new RangeError(`${what}: header field ${k} is not a list of part sizes`);
    return v as number[];
  };
  const partSizes = (o: Record<string, unknown>): { tb: number[]; db: number[]; ab: number } => {
    const ab = o.admissionBytes ?? 0;
    if (typeof ab !== "number" || !Number.isSafeInteger(ab) || ab < 0) throw new RangeError(`${what}: header field admissionBytes is not a size`);
    return { tb: sizes(o, "tableBytes"), db: sizes(o, "matmulBytes"), ab };
  };
  const { tb, db, ab } = partSizes(h);
  const bestSizes = h.best === undefined || h.best === null ? undefined : partSizes(h.best as Record<string, unknown>);
  const sum = (p: { tb: number[]; db: number[]; ab: number }): number => [...p.tb, ...p.db].reduce((s, x) => s + x, 0) + p.ab;
  const total = sum({ tb, db, ab }) + (bestSizes ? sum(bestSizes) : 0);
  if (total !== body.length) throw new RangeError(`${what}: the parts add up to ${total} bytes, the body holds ${body.length}`);
  const meta = h as unknown as CheckpointMeta;
  checkMeta(meta, what);
  // The model is built from the settings before the saved states are compared
  // with it: bound its size by the dense states' bytes first.
  const s = meta.settings;
  const config = namedErrors(what, () => resolveConfig(s.model, { ...(s.modelConfig ?? {}), fields: meta.fields.length, seed: s.seed ?? 0 } as ModelConfig));
  const needed = minParamValues(s.model, config), stored = db.reduce((a, n) => a + n, 0) / 4;
  if (!(needed <= stored)) throw new RangeError(`${what}: the ${s.model} settings need ${needed} dense parameter values, the dense states hold at most ${Math.floor(stored)}`);
  let o = 0;
  const cut = (n: number): Uint8Array => body.subarray(o, (o += n));
  const tables = tb.map(cut), dense = db.map(cut), admission = ab ? cut(ab) : undefined;
  const model = namedErrors(what, () => assembleModel(s, meta.fields.length, meta.params, tables, dense, what, admission));
  let best: StateCopy | undefined;
  if (bestSizes) {
    best = { tables: bestSizes.tb.map(cut), dense: bestSizes.db.map(cut), admission: bestSizes.ab ? cut(bestSizes.ab) : undefined };
    if (best.tables.length !== tables.length || best.dense.length !== dense.length) throw new RangeError(`${what}: the best state has other parts than the model`);
  }
  return { model, meta, best };
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
  for (const [k, v] of Object.entries(m.args)) {
    if (typeof v !== "string" && v !== true && !(Array.isArray(v) && v.every((x) => typeof x === "string"))) throw new RangeError(`${what}: recorded option --${k} = ${JSON.stringify(v)} is not a string, a list of strings or true`);
  }
  for (const d of (Array.isArray(m.data) ? m.data : [m.data]) as unknown as Record<string, unknown>[]) {
    if (d === null || typeof d !== "object" || typeof d.path !== "string" || typeof d.size !== "number" || typeof d.mtimeMs !== "number") throw new RangeError(`${what}: no data identity`);
  }
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
