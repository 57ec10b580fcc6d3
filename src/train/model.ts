/**
 * The trained object: a model's embedding tables, dense parameters and
 * admission counts with the settings that built them (TrainSettings,
 * CtrModel, buildModel), and what is measured of it (features, feature rate,
 * bytes, a hash of every weight).
 */
import { createHash } from "node:crypto";
import type { Batch } from "../data/batch.js";
import { createModel, type Model, type ModelConfig, type ModelName } from "../models/index.js";
import type { Param } from "../nn/param.js";
import { isPooling, POOLINGS, type Pooling } from "../nn/bag.js";
import { createOptimizer, type Optimizer } from "../optim/optimizer.js";
import type { DenseParam } from "../optim/dense.js";
import type { RowInit } from "../optim/table.js";
import { joinIds } from "../optim/ids.js";
import { MAX_SHARDS, ShardedTable, type EmbeddingTable } from "../optim/sharded.js";
import type { Hyperparams, OptimizerName } from "../optim/hyper.js";
import { MAX_ROW } from "../kernels/layout.js";
import { Admission, oovKey } from "./admission.js";
import { BatchInputs } from "./inputs.js";
import { calibrated, NO_CALIBRATION, type Calibration } from "./calibration.js";

/** Settings of a training run. */
export interface TrainSettings {
  model: ModelName;
  /** Architecture overrides (fields come from the data). */
  modelConfig?: Omit<ModelConfig, "fields" | "seed">;
  /** Optimizer of the embedding tables (the regularised part). */
  optimizer: OptimizerName;
  hyper?: Hyperparams;
  /**
   * Dense layers: by default the plain rule of the same family without
   * regularisers (the paper); "group" uses the embedding optimizer and its
   * regularisers with each unit's outgoing weights as a group.
   */
  dense?: "plain" | "group";
  /** Rows per step (default 512). */
  batch?: number;
  /** Passes over the training rows (default 1). */
  epochs?: number;
  /** Seed of every random choice: initial values, dropout masks. */
  seed?: number;
  /** Initial values of embedding rows (default normal, std 1e-4, as FuxiCTR). */
  embeddingInit?: RowInit;
  /**
   * Shards per embedding table (default 1): each shard is one WebAssembly
   * memory of at most 4 GiB, rows split by a hash of the key. Training is the
   * same bit for bit whatever the count.
   */
  shards?: number;
  /**
   * Occurrences in the training rows before a feature gets a row of its own
   * (default 1: every feature at first sight); before that, and for features
   * without a live row at evaluation, the field's OOV row (see ./admission.ts).
   */
  minCount?: number;
  /** How the keys of one field of a row (multi-valued fields, feature values) are pooled (default mean). */
  pooling?: Pooling;
}

/** Settings with every default filled in. */
export type ResolvedSettings = Required<Omit<TrainSettings, "modelConfig" | "hyper" | "embeddingInit">> & Pick<TrainSettings, "modelConfig" | "hyper" | "embeddingInit">;

/** A model with its embedding tables and dense parameters, as training leaves it. */
export class CtrModel {
  constructor(
    readonly model: Model,
    readonly tables: EmbeddingTable[],
    readonly dense: DenseParam[],
    readonly params: Param[],
    readonly settings: ResolvedSettings,
    admission: Admission | undefined,
  ) {
    this.counts = admission;
    this.routing = new BatchInputs(tables, model.inputs[0]?.fields ?? 0, settings.pooling, admission);
  }

  private counts: Admission | undefined;
  private routing: BatchInputs;
  /** Counts to take when the admission counts or the inputs are next read (deferAdmission). */
  private pending: (() => Admission) | undefined;

  /** Occurrence counts of the features, with settings.minCount > 1 (replaced with setAdmission). */
  get admission(): Admission | undefined {
    this.settleAdmission();
    return this.counts;
  }

  /** Routing, lookup and pooling of the tables' inputs: made with the admission counts. */
  get inputs(): BatchInputs {
    this.settleAdmission();
    return this.routing;
  }

  /**
   * Admission counts taken when the counts or the inputs are next read (or
   * settleAdmission is called): `take` gives them, and the inputs then
   * route with them. The data-parallel trainer converts its workers' shared
   * counts so while they score (./parallel.ts); whatever `take` reads must
   * not change until it runs.
   */
  deferAdmission(take: () => Admission): void {
    this.settleAdmission();
    this.pending = take;
  }

  /** Takes the counts deferAdmission left to take, now (nothing when none are left). */
  settleAdmission(): void {
    const take = this.pending;
    if (take === undefined) return;
    this.pending = undefined;
    this.route(take());
  }

  /** Counts `a` as the model's, and inputs routing with them. */
  private route(a: Admission | undefined): void {
    this.counts = a;
    this.routing = new BatchInputs(this.tables, this.routing.fields, this.settings.pooling, a);
  }

  /**
   * Features present in the training data: the distinct keys counted for
   * admission, or the rows of the first table when every feature is admitted.
   */
  get features(): number { return this.admission ? this.admission.seen : this.tables[0].size; }
  /** Features whose embedding row is not exactly zero (OOV rows are not features). */
  get liveFeatures(): number {
    const oov = this.admission ? new Set(Array.from({ length: this.admission.fields }, (_, f) => oovKey(f))) : undefined;
    if (this.tables.length === 1) {
      const t = this.tables[0];
      let live = t.liveRows;
      if (oov) for (const k of oov) if (t.has(k) && !t.isZero(k)) live--;
      return live;
    }
    // Several tables read the same keys (deepfm: first-order weights and
    // embeddings): a feature lives while any of its rows does. The tables'
    // live ids, joined and sorted, are counted once each.
    const ids = joinIds(this.tables.map((t) => t.liveIds())).sort();
    let live = 0;
    for (let i = 0; i < ids.length; i++) if ((i === 0 || ids[i] !== ids[i - 1]) && !oov?.has(ids[i])) live++;
    return live;
  }
  /** The paper's sparsity measure: live features / features present in the training data. */
  get featureRate(): number { return this.features ? this.liveFeatures / this.features : 0; }

  /**
   * Replaces the training state (tables, dense parameters, admission counts)
   * by another of the same architecture, e.g. the best one an early-stopped
   * run kept; the replaced tables and parameters are disposed.
   */
  replaceState(tables: readonly EmbeddingTable[], dense: readonly DenseParam[], admission: Admission | undefined): void {
    if (tables.length !== this.tables.length || dense.length !== this.dense.length) throw new Error("replaceState: another architecture");
    this.tables.forEach((t) => t.dispose());
    this.dense.forEach((d) => d.dispose());
    this.tables.splice(0, tables.length, ...tables);
    this.dense.splice(0, dense.length, ...dense);
    this.params.forEach((p, i) => p.value.set(this.dense[i].view()));
    this.setAdmission(admission);
  }

  /** Replaces the admission counts (e.g. by those a checkpoint kept). */
  setAdmission(admission: Admission | undefined): void {
    // The counts' budget and what it forgot are the run's, not the saved state's.
    if (admission && this.admission) {
      admission.maxBytes = this.admission.maxBytes;
      admission.forgotten = this.admission.forgotten;
    }
    // Counts still deferred (and not read above) are dropped: these replace them.
    this.pending = undefined;
    this.route(admission);
  }

  /** Bytes of a served model: dense weights plus, per live row, its key and weights. */
  get modelBytes(): number {
    let b = 0;
    for (const p of this.params) b += p.value.length * 4;
    for (const t of this.tables) b += t.liveRows * (8 + 4 * t.rowLength);
    return b;
  }

  /** Bytes of memory the training state holds: every table's memory, the admission counts, dense weights and moments (estimated 4x). */
  get memoryBytes(): number {
    let b = this.admission?.bytes ?? 0;
    for (const t of this.tables) b += t.memoryBytes;
    for (const p of this.params) b += p.value.length * 4 * 4;
    return b;
  }

  /** How the logits become probabilities (Platt scaling fit on validation rows; the identity by default). */
  calibration: Calibration = { ...NO_CALIBRATION };

  /** The model's logits of a batch, before calibration (no rows are created; see BatchInputs.read for unseen features). */
  logits(batch: Batch, out: Float64Array = new Float64Array(batch.rows)): Float64Array {
    const z = this.model.forward(this.inputs.read(batch), batch.rows, false);
    for (let i = 0; i < batch.rows; i++) out[i] = z[i];
    return out;
  }

  /** Click probabilities of a batch: sigmoid(scale * logit + bias) of the calibration. */
  predict(batch: Batch, out: Float64Array = new Float64Array(batch.rows)): Float64Array {
    return calibrated(this.calibration, this.logits(batch, out), batch.rows, out);
  }

  /**
   * SHA-256 of every weight in a canonical order: dense parameters by name,
   * then each table's rows sorted by feature key (key, then weights). Two runs
   * are bit-identical exactly when their hashes are equal.
   */
  sha256(): string {
    const h = createHash("sha256");
    for (const p of [...this.params].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      h.update(p.name);
      h.update(new Uint8Array(p.value.buffer, p.value.byteOffset, p.value.byteLength));
    }
    this.tables.forEach((t, k) => {
      h.update(`table${k}`);
      // Each row's key (8 bytes, the platform's order) then its weights, in key order: gathered and
      // hashed a block of rows at a time (a call per row cost about 0.3 s per million rows).
      const ids = t.ids().sort(), d = t.rowLength, rowBytes = 8 + 4 * d;
      const per = Math.max(1, Math.floor(HASH_BLOCK_BYTES / rowBytes)), block = new Uint8Array(per * rowBytes);
      const key = new BigUint64Array(1), keyBytes = new Uint8Array(key.buffer);
      for (let s = 0; s < ids.length; s += per) {
        const part = ids.subarray(s, Math.min(ids.length, s + per));
        const w = t.gather(part, undefined, { create: false });
        const wb = new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
        for (let i = 0; i < part.length; i++) {
          key[0] = part[i];
          block.set(keyBytes, i * rowBytes);
          block.set(wb.subarray(i * 4 * d, (i + 1) * 4 * d), i * rowBytes + 8);
        }
        h.update(block.subarray(0, part.length * rowBytes));
      }
    });
    return h.digest("hex");
  }
}

/** Bytes of rows hashed at a time by CtrModel.sha256. */
const HASH_BLOCK_BYTES = 1 << 20;

/** The plain optimizer of the same family as `name` (group-adam -> adam, ftrl -> adagrad). */
export function plainOf(name: OptimizerName): OptimizerName {
  if (name === "ftrl") return "adagrad";
  return (name.startsWith("group-") ? name.slice(6) : name) as OptimizerName;
}

/**
 * The shape a dense parameter takes in its optimizer. The kernels' rows hold
 * at most MAX_ROW floats; a longer row (DCN's cross-layer vectors are
 * fields x embedding long) is cut into equal pieces when the rule is plain,
 * which is elementwise, so that nothing changes but the layout. A group rule
 * treats a row as one group and cannot cut it.
 */
export function denseShape(name: string, rows: number, rowLength: number, mode: "plain" | "group"): { rows: number; rowLength: number } {
  if (rowLength <= MAX_ROW) return { rows, rowLength };
  if (mode === "group") throw new RangeError(`${name}: a row of ${rowLength} floats is longer than the ${MAX_ROW} a group can hold: use --dense plain or a smaller model`);
  let piece = MAX_ROW;
  while (rowLength % piece !== 0) piece--;
  return { rows: rows * (rowLength / piece), rowLength: piece };
}

/** Builds an untrained model for data with `fields` key fields. */
export function buildModel(fields: number, s: TrainSettings): CtrModel {
  const seed = s.seed ?? 0;
  const settings: ResolvedSettings = { dense: "plain", batch: 512, epochs: 1, seed, shards: 1, minCount: 1, pooling: "mean", ...s };
  if (!Number.isSafeInteger(settings.minCount) || settings.minCount < 1) throw new RangeError(`minCount = ${settings.minCount} must be an integer >= 1`);
  if (!isPooling(settings.pooling)) throw new RangeError(`pooling ${JSON.stringify(settings.pooling)} is not one of ${POOLINGS.join(", ")}`);
  const embOpt = createOptimizer(s.optimizer, s.hyper ?? {});
  const lr = embOpt.hyper.lr;
  const denseOpt: Optimizer = settings.dense === "group"
    ? embOpt
    : createOptimizer(plainOf(s.optimizer), { lr, ...pick(s.hyper ?? {}, ["beta1", "beta2", "epsilon", "momentum", "rowStep", "initialAccumulator"]) });
  const dense: DenseParam[] = [];
  const model = createModel(s.model, { ...(s.modelConfig ?? {}), fields, seed }, {
    params: (name, rows, rowLength, init) => {
      dense.push(denseOpt.dense(init, denseShape(name, rows, rowLength, settings.dense)));
      return init;
    },
  });
  const shards = s.shards ?? 1;
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) throw new RangeError(`shards = ${shards} must be an integer in [1, ${MAX_SHARDS}]`);
  const tables = model.inputs.map((inp, k): EmbeddingTable => {
    const options = {
      rowLength: inp.rowLength,
      seed: (seed + 0x9e3779b9 * (k + 1)) >>> 0,
      // A first-order (width 1) table starts at zero, as logistic regression does.
      init: inp.rowLength === 1 ? "zeros" as const : s.embeddingInit ?? { normal: { std: 1e-4 } },
    };
    return shards === 1 ? embOpt.table(options) : new ShardedTable(Array.from({ length: shards }, () => embOpt.table(options)));
  });
  const admission = settings.minCount > 1 ? new Admission(settings.minCount, fields) : undefined;
  return new CtrModel(model, tables, dense, model.params(), settings, admission);
}

/** Memory one feature costs in a table: its record plus its index slots at the highest load before the index doubles, twice over. */
export function bytesPerFeature(t: EmbeddingTable): number {
  return t.recordBytes + 8 + 2 * 12 / 0.75;
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const r: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) r[k] = o[k];
  return r;
}
