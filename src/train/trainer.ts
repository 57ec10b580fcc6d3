import { createHash } from "node:crypto";
import type { Batch } from "../data/batch.js";
import type { DataFile } from "../data/reader.js";
import { createModel, type Model, type ModelConfig, type ModelName } from "../models/index.js";
import type { Param } from "../nn/param.js";
import { sigmoid, sigmoidLogLoss } from "../nn/loss.js";
import { AucAccumulator, LoglossAccumulator } from "../metrics/index.js";
import { createOptimizer, type Optimizer } from "../optim/optimizer.js";
import type { DenseParam } from "../optim/dense.js";
import type { SparseTable, RowInit } from "../optim/table.js";
import type { Hyperparams, OptimizerName } from "../optim/hyper.js";
import { ruleSpec } from "../optim/hyper.js";
import { R_ADAHESSIAN } from "../kernels/layout.js";
import { HutchinsonEstimator, stepSeed, type TrainedArrays } from "./hutchinson.js";

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
}

/** Progress of a run, reported after every step. */
export interface Progress {
  rows: number;
  steps: number;
  epoch: number;
  /** Mean training log loss over the last steps. */
  loss: number;
  seconds: number;
  liveFeatures: number;
  features: number;
}

/** A model with its embedding tables and dense parameters, as training leaves it. */
export class CtrModel {
  constructor(
    readonly model: Model,
    readonly tables: SparseTable[],
    readonly dense: DenseParam[],
    readonly params: Param[],
    readonly settings: Required<Omit<TrainSettings, "modelConfig" | "hyper" | "embeddingInit">> & Pick<TrainSettings, "modelConfig" | "hyper" | "embeddingInit">,
  ) {}

  /** Features present in the training data (rows of the first table). */
  get features(): number { return this.tables[0].size; }
  /** Features whose embedding row is not exactly zero. */
  get liveFeatures(): number {
    if (this.tables.length === 1) return this.tables[0].liveRows;
    // Several tables read the same keys (deepfm: first-order weights and
    // embeddings): a feature lives while any of its rows does.
    let live = 0;
    for (const id of this.tables[0].ids()) if (this.tables.some((t) => !t.isZero(id))) live++;
    return live;
  }
  /** The paper's sparsity measure: live rows / rows present. */
  get featureRate(): number { return this.features ? this.liveFeatures / this.features : 0; }

  /** Bytes of a served model: dense weights plus, per live row, its key and weights. */
  get modelBytes(): number {
    let b = 0;
    for (const p of this.params) b += p.value.length * 4;
    for (const t of this.tables) b += t.liveRows * (8 + 4 * t.rowLength);
    return b;
  }

  /** Click probabilities of a batch (no rows are created for unseen features). */
  predict(batch: Batch, out: Float64Array = new Float64Array(batch.rows)): Float64Array {
    const inputs = this.tables.map((t) => t.gather(batch.keys, undefined, { create: false }));
    const logits = this.model.forward(inputs, batch.rows, false);
    for (let i = 0; i < batch.rows; i++) out[i] = sigmoid(logits[i]);
    return out;
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
      const ids = Array.from(t.ids()).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const key = new BigUint64Array(1);
      for (const id of ids) {
        key[0] = id;
        h.update(new Uint8Array(key.buffer));
        const w = t.get(id)!;
        h.update(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
      }
    });
    return h.digest("hex");
  }
}

/** The plain optimizer of the same family as `name` (group-adam -> adam, ftrl -> adagrad). */
export function plainOf(name: OptimizerName): OptimizerName {
  if (name === "ftrl") return "adagrad";
  return (name.startsWith("group-") ? name.slice(6) : name) as OptimizerName;
}

/** Builds an untrained model for data with `fields` key fields. */
export function buildModel(fields: number, s: TrainSettings): CtrModel {
  const seed = s.seed ?? 0;
  const settings = { dense: "plain" as const, batch: 512, epochs: 1, seed, ...s };
  const embOpt = createOptimizer(s.optimizer, s.hyper ?? {});
  const lr = embOpt.hyper.lr;
  const denseOpt: Optimizer = settings.dense === "group"
    ? embOpt
    : createOptimizer(plainOf(s.optimizer), { lr, ...pick(s.hyper ?? {}, ["beta1", "beta2", "epsilon", "momentum", "rowStep", "initialAccumulator"]) });
  const dense: DenseParam[] = [];
  const model = createModel(s.model, { ...(s.modelConfig ?? {}), fields, seed }, {
    params: (_name, rows, rowLength, init) => {
      dense.push(denseOpt.dense(init, { rows, rowLength }));
      return init;
    },
  });
  const tables = model.inputs.map((inp, k) => embOpt.table({
    rowLength: inp.rowLength,
    seed: (seed + 0x9e3779b9 * (k + 1)) >>> 0,
    // A first-order (width 1) table starts at zero, as logistic regression does.
    init: inp.rowLength === 1 ? "zeros" : s.embeddingInit ?? { normal: { std: 1e-4 } },
  }));
  return new CtrModel(model, tables, dense, model.params(), settings);
}

/**
 * One or more passes over the training rows (in the file's batches: open it
 * with the batch size wanted): gather the batch's embeddings,
 * forward, log loss, backward, a lazy optimizer step on the tables and a step
 * on every dense parameter. With adahessian or group-adahessian each step
 * first estimates the Hessian diagonal (Hutchinson, two extra forward +
 * backward passes; see ./hutchinson.ts) and reseeds the model with the
 * step's seed before every pass, so all passes share the dropout masks.
 */
export async function trainModel(
  m: CtrModel, file: DataFile, range?: { start?: number; end?: number },
  onProgress?: (p: Progress) => void,
): Promise<{ rows: number; seconds: number; loss: number }> {
  const t0 = process.hrtime.bigint();
  let rows = 0, steps = 0, lossSum = 0, lossRows = 0, recent = 0;
  if (file.numeric.length) throw new Error(`${file.path}: numeric (unbucketed) inputs are not used by the models yet: bucket them ("bucket": "criteo") or ignore them`);
  let dlogits = new Float32Array(0);
  const bufs = m.tables.map(() => new Float32Array(0));
  // Only the AdaHessian rules pay for the Hessian estimate.
  const hutch = ruleSpec(m.settings.optimizer).rule === R_ADAHESSIAN || m.dense.some((d) => ruleSpec(d.optimizer).rule === R_ADAHESSIAN)
    ? new HutchinsonEstimator(m.model) : undefined;
  for (let epoch = 0; epoch < m.settings.epochs; epoch++) {
    for await (const b of file.batches(range)) {
      const n = b.rows;
      const inputs = m.tables.map((t, k) => {
        if (bufs[k].length !== n * t.rowLength * file.fields.length) bufs[k] = new Float32Array(n * t.rowLength * file.fields.length);
        return t.gatherBatch(b.keys, bufs[k]);
      });
      if (dlogits.length < n) dlogits = new Float32Array(n);
      let hess: TrainedArrays | undefined;
      if (hutch) {
        // The table's global step, so that a resumed run continues the sequence.
        const seed = stepSeed(m.settings.seed, m.tables[0]?.stepCount ?? steps);
        hess = hutch.estimate(b.keys, inputs, b.labels, n, seed);
        m.model.reseed(seed);
      }
      const logits = m.model.forward(inputs, n, true);
      const loss = sigmoidLogLoss(logits, b.labels, n, dlogits);
      if (!Number.isFinite(loss)) throw new Error(`training diverged: the log loss is ${loss} at step ${steps + 1} (rows ${b.lines[0]}..${b.lines[n - 1]} of ${file.path})`);
      const grads = m.model.backward(dlogits, n);
      m.tables.forEach((t, k) => t.stepBatch(grads[k], hess ? { hessian: hess.inputs[k] } : {}));
      for (let i = 0; i < m.params.length; i++) {
        const p = m.params[i], d = m.dense[i];
        d.step(p.grad, hess ? { hessian: hess.params[i] } : {});
        p.value.set(d.view());
      }
      rows += n;
      steps++;
      lossSum += loss * n;
      lossRows += n;
      recent = recent === 0 ? loss : 0.98 * recent + 0.02 * loss;
      onProgress?.({
        rows, steps, epoch, loss: recent, seconds: Number(process.hrtime.bigint() - t0) / 1e9,
        // The last input is the embedding table; its O(1) count keeps the progress cheap.
        liveFeatures: m.tables[m.tables.length - 1].liveRows, features: m.features,
      });
    }
  }
  return { rows, seconds: Number(process.hrtime.bigint() - t0) / 1e9, loss: lossRows ? lossSum / lossRows : NaN };
}

/** AUC and log loss of the model on rows of a file (no rows are created in the tables). */
export async function evaluateModel(m: CtrModel, file: DataFile, range?: { start?: number; end?: number }): Promise<{ auc: number; logloss: number; rows: number }> {
  const auc = new AucAccumulator(), ll = new LoglossAccumulator();
  let p = new Float64Array(0);
  let rows = 0;
  for await (const b of file.batches(range)) {
    if (p.length < b.rows) p = new Float64Array(b.rows);
    m.predict(b, p);
    for (let i = 0; i < b.rows; i++) {
      auc.add(p[i], b.labels[i]);
      ll.add(p[i], b.labels[i]);
    }
    rows += b.rows;
  }
  return { auc: auc.value(), logloss: ll.value(), rows };
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const r: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) r[k] = o[k];
  return r;
}
