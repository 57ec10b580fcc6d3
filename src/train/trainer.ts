import { createHash } from "node:crypto";
import type { Batch } from "../data/batch.js";
import type { DataFile } from "../data/reader.js";
import { createModel, type Model, type ModelConfig, type ModelName } from "../models/index.js";
import type { Param } from "../nn/param.js";
import { sigmoid, sigmoidLogLoss } from "../nn/loss.js";
import { AucAccumulator, LoglossAccumulator } from "../metrics/index.js";
import { createOptimizer, type Optimizer } from "../optim/optimizer.js";
import type { DenseParam } from "../optim/dense.js";
import type { RowInit } from "../optim/table.js";
import { MAX_SHARDS, ShardedTable, type EmbeddingTable } from "../optim/sharded.js";
import type { Hyperparams, OptimizerName } from "../optim/hyper.js";
import { ruleSpec } from "../optim/hyper.js";
import { MAX_ROW, R_ADAHESSIAN } from "../kernels/layout.js";
import { configureDense, denseActive, denseAvailable, denseSplitting } from "../kernels/dense.js";
import { getMatmulBackend } from "../nn/matmul.js";
import { Scratch } from "../nn/scratch.js";
import { lookaheadThread } from "../optim/lookahead.js";
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
  /**
   * Shards per embedding table (default 1): each shard is one WebAssembly
   * memory of at most 4 GiB, rows split by a hash of the key. Training is the
   * same bit for bit whatever the count.
   */
  shards?: number;
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
    readonly tables: EmbeddingTable[],
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

  /** Bytes of memory the training state holds: every table's memory plus dense weights and moments (estimated 4x). */
  get memoryBytes(): number {
    let b = 0;
    for (const t of this.tables) b += t.memoryBytes;
    for (const p of this.params) b += p.value.length * 4 * 4;
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
  const settings = { dense: "plain" as const, batch: 512, epochs: 1, seed, shards: 1, ...s };
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
  return new CtrModel(model, tables, dense, model.params(), settings);
}

/**
 * Where a run is: enough to continue it exactly (with the model's saved
 * state). `seen` counts the data rows of the file read in the current epoch's
 * pass, so the pass restarts with `range.start = seen`.
 */
export interface TrainPosition {
  epoch: number;
  seen: number;
  rows: number;
  steps: number;
  /** Sums behind the mean training loss. */
  lossSum: number;
  lossRows: number;
  /** Batches skipped with a non-finite loss or gradient (skipNonFinite). */
  skippedBatches: number;
  /** True once every epoch is done. */
  done: boolean;
}

/** Checkpoints, resumption, stopping and the divergence policy of {@link trainModel}. */
export interface TrainControl {
  /** Continue from this position (the model must hold the state saved with it). */
  start?: TrainPosition;
  /** Called with the position after a step when a checkpoint is due, and at the end. */
  checkpoint?: (pos: TrainPosition) => void;
  /** A checkpoint every this many training rows (rounded up to whole batches). */
  checkpointEveryRows?: number;
  /** A checkpoint when this many seconds have passed since the last one. */
  checkpointEverySeconds?: number;
  /** Skip and count a batch whose loss or gradients are not finite, instead of stopping. */
  skipNonFinite?: boolean;
  /** Polled after every step: true stops the run after a checkpoint (Ctrl-C). */
  shouldStop?: () => boolean;
  /** At most this many rows (features) per table. */
  maxFeatures?: number;
  /**
   * What to do at maxFeatures: "stop" (default) throws a MemoryBudgetError
   * before the batch that would exceed it; "evict" removes rows (zero rows
   * first, then the least updated: SparseTable.evictTo) down to 80% of the
   * budget less one batch's ids.
   */
  onFull?: "stop" | "evict";
  /** Called after each eviction. */
  onEvict?: (e: { table: number; evicted: number; zeroEvicted: number; rows: number }) => void;
  /**
   * Look up each next batch's ids in the tables on another thread while this
   * one trains on the current batch (the same model bit for bit). Default:
   * on when the dense kernels may use two threads (`configureDense`), and
   * never with maxFeatures (eviction changes the index between batches).
   * Even when on, a step whose dense products are split between the cores
   * (`denseSplitting`) looks up on this thread.
   */
  lookahead?: boolean;
}

/** A run that would exceed its feature budget (--max-features or --max-memory). */
export class MemoryBudgetError extends Error {
  constructor(readonly features: number, readonly maxFeatures: number, readonly bytesPerFeature: number, readonly rows: number) {
    super(`the embedding table would hold ${features} features after ${rows} training rows, over the budget of ${maxFeatures} (about ${Math.round(bytesPerFeature)} bytes each: ${(features * bytesPerFeature / 2 ** 20).toFixed(1)} MiB needed, ${(maxFeatures * bytesPerFeature / 2 ** 20).toFixed(1)} MiB allowed); raise the budget, hash the features into fewer rows, or let rows be evicted (--evict)`);
    this.name = "MemoryBudgetError";
  }
}

/** Memory one feature costs in a table: its record plus its index slots at the highest load before the index doubles, twice over. */
export function bytesPerFeature(t: EmbeddingTable): number {
  return t.recordBytes + 8 + 2 * 12 / 0.75;
}

/** A run that diverged: the loss or a gradient of a batch is not finite. */
export class DivergenceError extends Error {
  constructor(readonly step: number, readonly firstLine: number, readonly lastLine: number, readonly file: string, detail: string) {
    super(`training diverged at step ${step} (rows on lines ${firstLine}..${lastLine} of ${file}): ${detail}; the model of the last checkpoint is kept (--skip-nonfinite skips such batches)`);
    this.name = "DivergenceError";
  }
}

/** The position of a run that has not started. */
export function startPosition(): TrainPosition {
  return { epoch: 0, seen: 0, rows: 0, steps: 0, lossSum: 0, lossRows: 0, skippedBatches: 0, done: false };
}

/**
 * One or more passes over the training rows (in the file's batches: open it
 * with the batch size wanted): gather the batch's embeddings,
 * forward, log loss, backward, a lazy optimizer step on the tables and a step
 * on every dense parameter. Before each step the model's dropout is reseeded
 * from (seed, the table's step count), so a resumed run draws the same masks
 * as one that never stopped. With adahessian or group-adahessian each step
 * first estimates the Hessian diagonal (Hutchinson, two extra forward +
 * backward passes; see ./hutchinson.ts) under the same seed, so all passes
 * share the dropout masks.
 */
export async function trainModel(
  m: CtrModel, file: DataFile, range?: { start?: number; end?: number },
  onProgress?: (p: Progress) => void, control: TrainControl = {},
): Promise<{ rows: number; seconds: number; loss: number; position: TrainPosition; stopped: boolean }> {
  const t0 = process.hrtime.bigint();
  const seconds = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
  const pos: TrainPosition = { ...(control.start ?? startPosition()) };
  const rows0 = pos.rows;
  let recent = 0, lastCkptRows = pos.rows, lastCkptTime = 0, stopped = false;
  if (file.numeric.length) throw new Error(`${file.path}: numeric (unbucketed) inputs are not used by the models yet: bucket them ("bucket": "criteo") or ignore them`);
  let dlogits = new Float32Array(0);
  // The kernels made now, so that the inputs (and the layers' buffers, made
  // at the first step) live in their memory (see denseBuffer).
  if (getMatmulBackend() !== "ts") denseAvailable();
  const bufs = m.tables.map(() => new Scratch());
  // Only the AdaHessian rules pay for the Hessian estimate.
  const hutch = ruleSpec(m.settings.optimizer).rule === R_ADAHESSIAN || m.dense.some((d) => ruleSpec(d.optimizer).rule === R_ADAHESSIAN)
    ? new HutchinsonEstimator(m.model) : undefined;
  const dueCheckpoint = (): boolean => {
    if (!control.checkpoint) return false;
    if (control.checkpointEveryRows !== undefined && pos.rows - lastCkptRows >= control.checkpointEveryRows) return true;
    return control.checkpointEverySeconds !== undefined && seconds() - lastCkptTime >= control.checkpointEverySeconds;
  };
  const base = range?.start ?? 0;
  const lookahead = (control.lookahead ?? configureDense({}).threads > 1) && control.maxFeatures === undefined;
  // Started, not waited for: it starts as the reader thread does, and until
  // it runs the tables look up on this thread (the same model).
  if (lookahead) lookaheadThread();
  run: for (; pos.epoch < m.settings.epochs; pos.epoch++, pos.seen = 0) {
    // Without a range or a position, the file's own range (openData's) applies.
    const start = range?.start !== undefined || pos.seen > 0 ? Math.max(base, pos.seen) : undefined;
    for await (const [b, next] of withNext(file.batches({ start, end: range?.end }))) {
      const n = b.rows;
      if (control.maxFeatures !== undefined) enforceBudget(m, b.keys, pos.rows, control);
      const inputs = m.tables.map((t, k) => t.gatherBatch(b.keys, bufs[k].take(n * t.rowLength * file.fields.length)));
      // The next batch's ids are looked up on another thread during this step,
      // unless the products are split between the cores: then that thread
      // would only take the core from the product helper (opnn measured
      // 3-11% faster without it), and the lookup runs on this thread.
      if (lookahead && next !== undefined && !denseSplitting()) for (const t of m.tables) t.lookahead(next.keys);
      if (dlogits.length < n) dlogits = new Float32Array(n);
      // The table's global step, so that a resumed run continues the sequence.
      const seed = stepSeed(m.settings.seed, m.tables[0]?.stepCount ?? pos.steps);
      const hess: TrainedArrays | undefined = hutch?.estimate(b.keys, inputs, b.labels, n, seed);
      m.model.reseed(seed);
      denseActive(true);
      const logits = m.model.forward(inputs, n, true);
      const loss = sigmoidLogLoss(logits, b.labels, n, dlogits);
      const fail = (detail: string): DivergenceError => new DivergenceError(pos.steps + 1, b.lines[0], b.lines[n - 1], file.path, detail);
      let bad: string | undefined = Number.isFinite(loss) ? undefined : `the log loss is ${loss}`;
      if (bad !== undefined) denseActive(false);
      if (bad === undefined) {
        const grads = m.model.backward(dlogits, n);
        denseActive(false);
        // With skipping, look before touching anything, so a skipped batch changes nothing.
        if (control.skipNonFinite) bad = nonFiniteGradient(m, grads);
        if (bad === undefined) {
          try {
            m.tables.forEach((t, k) => t.stepBatch(grads[k], hess ? { hessian: hess.inputs[k] } : {}));
            for (let i = 0; i < m.params.length; i++) {
              const p = m.params[i], d = m.dense[i];
              d.step(p.grad, hess ? { hessian: hess.params[i] } : {});
              p.value.set(d.view());
            }
          } catch (e) {
            if (e instanceof RangeError && /not finite|non-finite|NaN|Infinity/i.test(e.message)) throw fail(e.message);
            throw e;
          }
        }
      }
      pos.seen = b.seen;
      if (bad !== undefined) {
        if (!control.skipNonFinite) throw fail(bad);
        pos.skippedBatches++;
        continue;
      }
      pos.rows += n;
      pos.steps++;
      pos.lossSum += loss * n;
      pos.lossRows += n;
      recent = recent === 0 ? loss : 0.98 * recent + 0.02 * loss;
      onProgress?.({
        rows: pos.rows, steps: pos.steps, epoch: pos.epoch, loss: recent, seconds: seconds(),
        // The last input is the embedding table; its O(1) count keeps the progress cheap.
        liveFeatures: m.tables[m.tables.length - 1].liveRows, features: m.features,
      });
      if (control.shouldStop?.()) {
        stopped = true;
        break run;
      }
      if (dueCheckpoint()) {
        control.checkpoint!({ ...pos });
        lastCkptRows = pos.rows;
        lastCkptTime = seconds();
      }
    }
  }
  if (!stopped) {
    pos.done = true;
    pos.seen = 0;
  }
  control.checkpoint?.({ ...pos });
  return { rows: pos.rows - rows0, seconds: seconds(), loss: pos.lossRows ? pos.lossSum / pos.lossRows : NaN, position: pos, stopped };
}

/**
 * Each batch with the one after it (undefined at the end). When reading the
 * next one fails, this batch still comes first and the failure after it, as
 * without the look ahead.
 */
async function* withNext(batches: AsyncGenerator<Batch, unknown>): AsyncGenerator<[Batch, Batch | undefined]> {
  try {
    let r = await batches.next();
    while (r.done !== true) {
      let next: IteratorResult<Batch, unknown>, failure: { error: unknown } | undefined;
      try {
        next = await batches.next();
      } catch (error) {
        failure = { error };
        next = { done: true, value: undefined };
      }
      yield [r.value, next.done === true ? undefined : next.value];
      if (failure) throw failure.error;
      r = next;
    }
  } finally {
    await batches.return(undefined);
  }
}

/** Keeps every table within control.maxFeatures before a batch adds its new rows. */
function enforceBudget(m: CtrModel, keys: BigUint64Array, rows: number, control: TrainControl): void {
  const max = control.maxFeatures!, ids = keys.length;
  m.tables.forEach((t, k) => {
    if (t.size + ids <= max) return;
    if (control.onFull === "evict") {
      const keep = Math.floor(0.8 * max) - ids;
      if (keep < 0) throw new RangeError(`the feature budget ${max} (--max-features or --max-memory) is too small: one batch alone brings up to ${ids} features; allow at least ${Math.ceil(ids / 0.8)}`);
      const e = t.evictTo(keep);
      control.onEvict?.({ table: k, ...e, rows });
      return;
    }
    // Near the budget: count the batch's new features exactly.
    const fresh = new Set<bigint>();
    for (const key of keys) if (!t.has(key)) fresh.add(key);
    if (t.size + fresh.size > max) throw new MemoryBudgetError(t.size + fresh.size, max, bytesPerFeature(t), rows);
  });
}

/** Where the first non-finite gradient of a batch is, or undefined when all are finite. */
function nonFiniteGradient(m: CtrModel, grads: readonly Float32Array[]): string | undefined {
  for (let k = 0; k < grads.length; k++) {
    const g = grads[k];
    for (let i = 0; i < g.length; i++) if (!Number.isFinite(g[i])) return `gradient of table ${k} at position ${i} is ${g[i]}`;
  }
  for (const p of m.params) {
    const g = p.grad;
    for (let i = 0; i < g.length; i++) if (!Number.isFinite(g[i])) return `gradient of ${p.name} at ${i} is ${g[i]}`;
  }
  return undefined;
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
