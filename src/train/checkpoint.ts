import { readdirSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { decodeEnvelope, envelopeChunks } from "../io/envelope.js";
import { TMP_PREFIX, writeFileAtomic, writeFileAtomicAsync } from "../io/atomic.js";
import type { CtrModel, TrainSettings } from "./model.js";
import type { TrainPosition } from "./trainer.js";
import { assembleModel } from "./restore.js";
import type { Calibration } from "./calibration.js";
import { copyState, sealState, type EvalPoint, type StateCopy, type ValidationRecord } from "./validation.js";
import { minParamValues } from "../models/size.js";
import { namedErrors } from "../util/named-errors.js";
import { JsonFields } from "../util/json-fields.js";
import { readInputSpec, type InputSpec } from "../data/input-spec.js";
import { resolveConfig } from "../models/config.js";
import { readRun, readSettings, type TrainRun } from "./run.js";

/** The checkpoint file of an output folder. */
export const CHECKPOINT_FILE = "checkpoint.sparsectr-state";

/** The checkpoint format (2: the run's resolved options instead of its command line). */
const VERSION = 2;

/** Identity of the training data: a resumed run refuses a file that changed. */
export interface DataIdentity { path: string; size: number; mtimeMs: number }

/** What a checkpoint records beside the model's state. */
export interface CheckpointMeta {
  settings: TrainSettings;
  fields: string[];
  format: string;
  params: string[];
  position: TrainPosition;
  /** The run's resolved options, so that `--resume` needs nothing else (the model's settings are in `settings`). */
  run: TrainRun;
  /** The training files as they were (one per file). */
  data: DataIdentity | DataIdentity[];
  /** A validation-driven run's evaluations and early-stopping state. */
  validation?: ValidationRecord;
  /** How inputs are read (format, fields, schema or featindex), for the serving file and `export`. */
  input?: InputSpec;
  /**
   * Set by the run's last write, once the model is final (its best state,
   * refit on the newest rows and calibrated): the folder's one copy of the
   * trained state. A resumed finished run only re-evaluates and rewrites the
   * outputs; `--init-from` starts from it.
   */
  finished?: { calibration: Calibration; refitRows: number };
  /** A cluster run's checkpoint (rank 0's): the run's record beside the store's whole model. */
  cluster?: ClusterRecord;
}

/**
 * What a checkpoint of a cluster run (../cluster/train.ts) records beside
 * the store's whole model, taken at a barrier of every worker: enough to
 * restore the store and let each worker continue from its position.
 */
export interface ClusterRecord {
  run: string;
  workers: number;
  buckets: number;
  syncEveryRows: number;
  syncDenseEveryRows: number;
  /** Bytes of the run's sightings filter (../cluster/sightings.ts); absent in checkpoints written before it existed (the default size). */
  sightingsBytes?: number;
  /** The checkpoint's number in the run (later ones go on from it). */
  checkpoint: number;
  /** The run's global step count. */
  steps: number;
  /** Each rank's position in its input (as the store recorded it, JSON), null for a rank that recorded none. */
  positions: (string | null)[];
  /** The ranks that had finished their parts. */
  done: number[];
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
export function writeCheckpoint(dir: string, m: CtrModel, meta: CheckpointMeta, best?: StateCopy, rankAdmissions: readonly Uint8Array[] = []): void {
  writeFileAtomic(join(dir, CHECKPOINT_FILE), checkpointChunks(m, meta, best, rankAdmissions));
}

/**
 * {@link writeCheckpoint} with the write in the background: the state is
 * copied now (the checkpoint is of this moment), and only copied: its
 * checksums are computed after the caller has gone on (the next turn of
 * the event loop: a data-parallel run's workers train meanwhile), then the
 * file is written; the returned promise settles once it is complete on
 * disk. Writes to one folder must not overlap: await one before the next.
 * With `spare`, the copy is made over the memory of the last one this
 * `spare` saw written (copyState's reuse), and is left there once written.
 */
export async function writeCheckpointAsync(dir: string, m: CtrModel, meta: CheckpointMeta, best?: StateCopy, spare?: { state?: StateCopy }): Promise<void> {
  const now = copyState(m, spare?.state, false);
  if (spare) spare.state = undefined;
  await new Promise<void>((resolve) => setImmediate(resolve));
  await writeFileAtomicAsync(join(dir, CHECKPOINT_FILE), checkpointChunks(m, meta, best, [], now));
  if (spare) spare.state = now;
}

/** A checkpoint file's bytes: the model's state copied now (or `now`, its copy), in the envelope's chunks. */
function checkpointChunks(m: CtrModel, meta: CheckpointMeta, best: StateCopy | undefined, rankAdmissions: readonly Uint8Array[], now = copyState(m)): Uint8Array[] {
  if (meta.cluster && rankAdmissions.length !== meta.cluster.workers) throw new Error(`internal: a cluster checkpoint of ${meta.cluster.workers} workers with ${rankAdmissions.length} ranks' admission counts`);
  sealState(now);
  if (best) sealState(best);
  const sizes = (s: StateCopy): Record<string, unknown> => ({
    tableBytes: s.tables.map((b) => b.length), matmulBytes: s.dense.map((b) => b.length), admissionBytes: s.admission?.length ?? 0,
  });
  // A cluster checkpoint's ranks' admission counts come last, in rank order (0 bytes: none).
  const header = { kind: "checkpoint", version: VERSION, ...meta, ...sizes(now), best: best ? sizes(best) : null, ...(meta.cluster ? { rankAdmissionBytes: rankAdmissions.map((a) => a.length) } : {}) };
  const parts = (s: StateCopy): Uint8Array[] => [...s.tables, ...s.dense, ...(s.admission ? [s.admission] : [])];
  return envelopeChunks(header, [...parts(now), ...(best ? parts(best) : []), ...rankAdmissions.filter((a) => a.length > 0)]);
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
export function readCheckpoint(dir: string): DecodedCheckpoint {
  const path = join(dir, CHECKPOINT_FILE);
  let bytes: Uint8Array;
  try { bytes = readFileSync(path); } catch (e) { throw new Error(`${dir}: no checkpoint to resume from (${(e as Error).message})`); }
  return decodeCheckpoint(bytes, path);
}

/**
 * The trained model of a finished run's folder (`train --out DIR`), from its
 * checkpoint, calibrated as trained; an unfinished run is an error that says
 * how to finish it.
 */
export function restoreModel(dir: string): { model: CtrModel; meta: CheckpointMeta } {
  const { model, meta } = readCheckpoint(dir);
  if (!meta.finished) throw new Error(`${dir}: the run has not finished (continue it with sparsectr train --resume ${dir})`);
  model.calibration = { ...meta.finished.calibration };
  return { model, meta };
}

/** A checkpoint read back: the model, the record, the best state kept, and a cluster checkpoint's admission counts of every rank. */
export interface DecodedCheckpoint { model: CtrModel; meta: CheckpointMeta; best?: StateCopy; rankAdmissions: Uint8Array[] }

/** {@link readCheckpoint} on bytes already read. */
export function decodeCheckpoint(bytes: Uint8Array, what: string): DecodedCheckpoint {
  const { header: h, body } = decodeEnvelope(bytes, what);
  if (h.kind !== "checkpoint" || h.version !== VERSION) throw new RangeError(`${what}: kind/version ${String(h.kind)}/${String(h.version)} is not checkpoint/${VERSION}`);
  const sizes = (o: JsonFields, k: string): number[] => {
    const v = o.raw(k);
    if (!Array.isArray(v) || !v.every((x): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 16)) throw new RangeError(`${what}: header field ${k} is not a list of part sizes`);
    return v;
  };
  const partSizes = (o: JsonFields): { tb: number[]; db: number[]; ab: number } => {
    if (o.has("admissionBytes") && !(typeof o.raw("admissionBytes") === "number")) throw new RangeError(`${what}: header field admissionBytes is not a size`);
    return { tb: sizes(o, "tableBytes"), db: sizes(o, "matmulBytes"), ab: o.optionalInteger("admissionBytes") ?? 0 };
  };
  const header = new JsonFields(h, what);
  const { tb, db, ab } = partSizes(header);
  const bestSizes = h.best === undefined || h.best === null ? undefined : partSizes(header.object("best"));
  const sum = (p: { tb: number[]; db: number[]; ab: number }): number => [...p.tb, ...p.db].reduce((s, x) => s + x, 0) + p.ab;
  const meta = readMeta(header);
  const rankBytes = meta.cluster ? header.integers("rankAdmissionBytes") : [];
  if (meta.cluster && rankBytes.length !== meta.cluster.workers) throw new RangeError(`${what}: header field rankAdmissionBytes does not give each of ${meta.cluster.workers} workers a size`);
  const total = sum({ tb, db, ab }) + (bestSizes ? sum(bestSizes) : 0) + rankBytes.reduce((a, n) => a + n, 0);
  if (total !== body.length) throw new RangeError(`${what}: the parts add up to ${total} bytes, the body holds ${body.length}`);
  // The model is built from the settings before the saved states are compared
  // with it: bound its size by the dense states' bytes first.
  const s = meta.settings;
  const config = namedErrors(what, () => resolveConfig(s.model, { ...(s.modelConfig ?? {}), fields: meta.fields.length, seed: s.seed ?? 0 }));
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
  const rankAdmissions = rankBytes.map((n) => (n ? cut(n) : new Uint8Array(0)));
  return { model, meta, best, rankAdmissions };
}

/** The header of a checkpoint, field by field. */
function readMeta(h: JsonFields): CheckpointMeta {
  const p = h.object("position");
  const position = {
    epoch: p.integer("epoch"), seen: p.integer("seen"), rows: p.integer("rows"), steps: p.integer("steps"),
    lossSum: p.number("lossSum"), lossRows: p.integer("lossRows"), skippedBatches: p.integer("skippedBatches"), done: p.boolean("done"),
    evaluatedRows: p.optionalInteger("evaluatedRows"),
    ...(p.has("parts") ? { parts: p.integers("parts") } : {}),
  };
  const identity = (v: unknown, what: string): DataIdentity => {
    const d = new JsonFields(v, h.what, what);
    return { path: d.string("path"), size: d.integer("size"), mtimeMs: d.number("mtimeMs") };
  };
  const data = h.raw("data");
  const v = h.optionalObject("validation");
  return {
    settings: readSettings(h.object("settings")),
    fields: h.strings("fields"),
    format: h.string("format"),
    params: h.strings("params"),
    position,
    run: readRun(h.object("run")),
    data: Array.isArray(data) ? data.map((d, i) => identity(d, `data[${i}]`)) : identity(data, "data"),
    ...(v ? { validation: readValidation(v) } : {}),
    ...(h.has("input") ? { input: readInputSpec(h.raw("input"), h.what) } : {}),
    ...(h.has("finished") ? { finished: readFinished(h.object("finished")) } : {}),
    ...(h.has("cluster") ? { cluster: readCluster(h.object("cluster")) } : {}),
  };
}

function readCluster(c: JsonFields): ClusterRecord {
  const positions = c.raw("positions"), workers = c.integer("workers", 1);
  if (!Array.isArray(positions) || positions.length !== workers || !positions.every((p) => p === null || typeof p === "string")) {
    throw new RangeError(`${c.name("positions")} is not a position (or null) for each of ${workers} workers`);
  }
  const done = c.integers("done");
  if (done.some((r) => r < 0 || r >= workers)) throw new RangeError(`${c.name("done")} names a rank outside 0..${workers - 1}`);
  return {
    run: c.string("run"), workers, buckets: c.integer("buckets", 1), syncEveryRows: c.integer("syncEveryRows", 1), syncDenseEveryRows: c.integer("syncDenseEveryRows", 1),
    ...(c.has("sightingsBytes") ? { sightingsBytes: c.integer("sightingsBytes") } : {}),
    checkpoint: c.integer("checkpoint", 1), steps: c.integer("steps"), positions: positions as (string | null)[], done,
  };
}

function readFinished(f: JsonFields): { calibration: Calibration; refitRows: number } {
  const c = f.object("calibration");
  return { calibration: { scale: c.number("scale", (v) => v > 0, "a positive number"), bias: c.number("bias") }, refitRows: f.integer("refitRows") };
}

function readValidation(v: JsonFields): ValidationRecord {
  const curve = v.raw("curve");
  if (!Array.isArray(curve)) throw new RangeError(`${v.name("curve")} is not a list`);
  const point = (x: unknown, i: number): EvalPoint => {
    const e = new JsonFields(x, v.what, `${v.path}.curve[${i}]`);
    return {
      rows: e.integer("rows"), epoch: e.integer("epoch"), steps: e.integer("steps"), auc: e.number("auc"), logloss: e.number("logloss"),
      liveFeatures: e.integer("liveFeatures"), features: e.integer("features"),
    };
  };
  const points = curve.map(point);
  return { curve: points, best: v.integer("best", -1, points.length - 1), bad: v.integer("bad"), bestIsCurrent: v.boolean("bestIsCurrent") };
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
