/**
 * The training loop (trainModel): passes over a row source with checkpoints,
 * stopping, evaluations, the feature budget (./budget.ts) and the divergence
 * policy.
 */
import { BackgroundWrites } from "./background-writes.js";
import type { Batch } from "../data/batch.js";
import type { DataFile } from "../data/types.js";
import { sigmoidLogLoss } from "../nn/loss.js";
import { configureLayers, layersActive, layersAvailable, layersSplitting } from "../kernels/layers/index.js";
import { getMatmulBackend } from "../nn/matmul.js";
import { lookaheadThread } from "../optim/lookahead.js";
import { HutchinsonEstimator, needsHessian, stepSeed, type TrainedArrays } from "./hutchinson.js";
import type { CtrModel } from "./model.js";
import type { Evaluation } from "./evaluate.js";
import { DivergenceError, nonFiniteGradient, nonFiniteWeight } from "./divergence.js";
import { enforceBudget, type BudgetControl } from "./budget.js";
import type { RoutedBatch } from "./inputs.js";

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
  /** True once every epoch is done (or an evaluation stopped the run). */
  done: boolean;
  /** Training rows at the last evaluation (control.evaluate). */
  evaluatedRows?: number;
  /**
   * With several worker threads (./parallel.ts): each worker's next row in
   * the current pass (`seen` is then 0); only such a run can continue it.
   */
  parts?: number[];
}

/** The AUC and log loss of the model being trained on rows of a file, as evaluateModel gives them (./evaluate.ts), and the logits where the scorer keeps them. */
export type Scorer = (file: DataFile, range?: { start?: number; end?: number }) => Promise<Evaluation>;

/** Checkpoints, resumption, stopping and the divergence policy of {@link trainModel}. */
export interface TrainControl extends BudgetControl {
  /** Continue from this position (the model must hold the state saved with it). */
  start?: TrainPosition;
  /**
   * Called with the position after a step when a checkpoint is due, and at
   * the end. It may return the write in progress (the state copied
   * already): the run trains on meanwhile, the next checkpoint waits for
   * it, the trainer returns once the last is on disk, and a failed write
   * fails the run at the next checkpoint or the end.
   */
  checkpoint?: (pos: TrainPosition) => void | Promise<void>;
  /** A checkpoint every this many training rows (rounded up to whole batches). */
  checkpointEveryRows?: number;
  /** A checkpoint when this many seconds have passed since the last one. */
  checkpointEverySeconds?: number;
  /** Skip and count a batch whose loss or gradients are not finite, instead of stopping. */
  skipNonFinite?: boolean;
  /** Polled after every step: true stops the run after a checkpoint (Ctrl-C). */
  shouldStop?: () => boolean;
  /**
   * Look up each next batch's ids in the tables on another thread while this
   * one trains on the current batch (the same model bit for bit). Default:
   * on when the layer kernels may use two threads (`configureLayers`), and
   * never with maxFeatures (eviction changes the index between batches).
   * Even when on, a step whose dense products are split between the cores
   * (`layersSplitting`) looks up on this thread.
   */
  lookahead?: boolean;
  /**
   * Called after every pass and every `evaluateEveryRows` rows (between
   * steps) with the position; resolving to true stops the run (early
   * stopping), which then counts as done. A trainer may give a `score`
   * that evaluates the model on rows of a file as evaluateModel does (the
   * same figures), faster (the data-parallel trainer's workers score their
   * shares of the rows); without one, evaluateModel. Such a score scores
   * on other threads: once its promise is made, the model is whole and
   * stays as it is until the next step, and this thread may read it
   * meanwhile (EarlyStopping copies the state then: ./validation.ts).
   * `last`: no step follows this evaluation (the run's last pass ended).
   */
  evaluate?: (pos: TrainPosition, score?: Scorer, last?: boolean) => Promise<boolean>;
  /** Rows between evaluations within a pass (default: only after each pass). */
  evaluateEveryRows?: number;
  /** Called before the first step after each evaluation (e.g. to keep a copy of the best state). */
  beforeStep?: () => void;
  /**
   * Awaited between steps every `everyRows` training rows (whole batches),
   * and once after the last step (complete or stopped) when rows trained
   * since: e.g. the exchange with other trainers (../cluster). The
   * data-parallel trainer (./parallel.ts) awaits it with its workers parked,
   * at the first pause after `everyRows` rows or after `due(rows)` (polled
   * every 20 ms) says so; the model then holds the workers' state, and the
   * dense states and tables `run` leaves are the workers' from there on;
   * its admission counts are the workers' once `run` calls `whole` (a copy
   * of every slot of the shared counts, so only when the counts are needed,
   * e.g. for a checkpoint). `run` resolving to true ends the run there as
   * complete (earlyStopped: e.g. another process's evaluation stopped the
   * run they share).
   */
  sync?: { everyRows: number; run: (pos: TrainPosition, whole?: () => void) => Promise<boolean | void>; due?: (rows: number) => boolean };
  /** Called when the run is complete (not when stopped), before its final checkpoint (e.g. to restore the best state). */
  finish?: () => void;
}

/** The position of a run that has not started. */
export function startPosition(): TrainPosition {
  return { epoch: 0, seen: 0, rows: 0, steps: 0, lossSum: 0, lossRows: 0, skippedBatches: 0, done: false };
}

/**
 * Where training rows come from, pass by pass: a file (or a range of it) read
 * in order ({@link fileSource}), or rows held in memory and shuffled per
 * pass (./shuffle.ts).
 */
export interface RowSource {
  /** Names the data in messages. */
  readonly path: string;
  /** The files of the data, for batches that carry a `part`. */
  readonly paths?: readonly string[];
  readonly numeric: readonly string[];
  /**
   * The batches of pass `epoch`, continuing after a position's `seen` (0:
   * from the start); each batch's `seen` is the value a position records.
   */
  pass(epoch: number, seen: number): AsyncGenerator<Batch, unknown>;
}

/** A file's rows (of `range`, else of the range it was opened with), in file order every pass. */
export function fileSource(file: DataFile, range?: { start?: number; end?: number }): RowSource {
  const base = range?.start ?? 0;
  return {
    path: file.path, paths: file.paths, numeric: file.numeric,
    // Without a range or a position, the file's own range (openData's) applies.
    pass: (_epoch, seen) => file.batches({ start: range?.start !== undefined || seen > 0 ? Math.max(base, seen) : undefined, end: range?.end }),
  };
}

/**
 * One or more passes over the training rows (in the file's batches: open it
 * with the batch size wanted): route and gather the batch's embeddings
 * (./inputs.ts), forward, log loss, backward, a lazy optimizer step on the
 * tables and a step on every dense parameter. Before each step the model's
 * dropout is reseeded from (seed, the table's step count), so a resumed run
 * draws the same masks as one that never stopped. With adahessian or
 * group-adahessian each step first estimates the Hessian diagonal
 * (Hutchinson, two extra forward + backward passes; see ./hutchinson.ts)
 * under the same seed, so all passes share the dropout masks. With
 * `control.evaluate` the run is evaluated every `evaluateEveryRows` rows and
 * after every pass, and stops early when an evaluation says so.
 */
export async function trainModel(
  m: CtrModel, data: DataFile | RowSource, range?: { start?: number; end?: number },
  onProgress?: (p: Progress) => void, control: TrainControl = {},
): Promise<TrainResult> {
  const t0 = process.hrtime.bigint();
  const seconds = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
  const source = "pass" in data ? data : fileSource(data, range);
  const pos: TrainPosition = { ...(control.start ?? startPosition()) };
  if (pos.parts !== undefined && !pos.done) throw new Error(`the run was checkpointed with ${pos.parts.length} worker threads: resume it with as many (--threads ${pos.parts.length})`);
  delete pos.parts;
  const rows0 = pos.rows;
  let recent = 0, lastCkptRows = pos.rows, lastCkptTime = 0, stopped = false, earlyStopped = false, lastSync = pos.rows;
  if (source.numeric.length) throw new Error(`${source.path}: numeric (unbucketed) inputs are not used by the models yet: bucket them ("bucket": "criteo") or ignore them`);
  let dlogits = new Float32Array(0);
  // The kernels made now, so that the inputs (and the layers' buffers, made
  // at the first step) live in their memory (see layerBuffer).
  if (getMatmulBackend() !== "ts") layersAvailable();
  // Only the AdaHessian rules pay for the Hessian estimate.
  const hutch = needsHessian(m.settings.optimizer, m.dense) ? new HutchinsonEstimator(m.model) : undefined;
  // Checkpoints written in the background while the run trains on.
  const writes = new BackgroundWrites();
  const dueCheckpoint = (): boolean => {
    if (!control.checkpoint) return false;
    if (control.checkpointEveryRows !== undefined && pos.rows - lastCkptRows >= control.checkpointEveryRows) return true;
    return control.checkpointEverySeconds !== undefined && seconds() - lastCkptTime >= control.checkpointEverySeconds;
  };
  // A resumed run may stop right after an evaluation: it lets the evaluator see its first step.
  let evaluated = control.start !== undefined;
  const evaluate = async (): Promise<boolean> => {
    pos.evaluatedRows = pos.rows;
    evaluated = control.evaluate !== undefined;
    return control.evaluate !== undefined && await control.evaluate({ ...pos });
  };
  const lookahead = (control.lookahead ?? configureLayers({}).threads > 1) && control.maxFeatures === undefined;
  // Started, not waited for: it starts as the reader thread does, and until
  // it runs the tables look up on this thread (the same model).
  if (lookahead) lookaheadThread();
  run: for (; pos.epoch < m.settings.epochs; pos.epoch++, pos.seen = 0) {
    // The first pass over the rows counts features for admission; later ones read them again.
    const counting = pos.epoch === 0;
    let routedNext: RoutedBatch | undefined;
    for await (const [b, next] of withNext(source.pass(pos.epoch, pos.seen))) {
      const n = b.rows;
      if (evaluated) {
        evaluated = false;
        control.beforeStep?.();
      }
      const routed = m.inputs.settle(b, routedNext, counting);
      routedNext = undefined;
      if (control.maxFeatures !== undefined) enforceBudget(m, routed.keys, pos.rows, control);
      const inputs = m.inputs.gatherTrain(routed);
      // The next batch's ids are looked up on another thread during this step,
      // unless the products are split between the cores: then that thread
      // would only take the core from the product helper (opnn trains
      // faster without it), and the lookup runs on this thread.
      if (lookahead && next !== undefined && !layersSplitting()) {
        routedNext = m.inputs.route(next, false, false);
        for (const t of m.tables) t.lookahead(routedNext.keys);
      }
      if (dlogits.length < n) dlogits = new Float32Array(n);
      // The table's global step, so that a resumed run continues the sequence.
      const seed = stepSeed(m.settings.seed, m.tables[0]?.stepCount ?? pos.steps);
      const hess: TrainedArrays | undefined = hutch?.estimate(routed.keys, inputs, b.labels, n, seed);
      m.model.reseed(seed);
      layersActive(true);
      const logits = m.model.forward(inputs, n, true);
      const loss = sigmoidLogLoss(logits, b.labels, n, dlogits);
      const fail = (detail: string): DivergenceError => new DivergenceError(pos.steps + 1, b.lines.subarray(0, n), source.paths?.[b.part ?? 0] ?? source.path, detail);
      let bad: string | undefined = Number.isFinite(loss) ? undefined : `the log loss is ${loss}`;
      if (bad !== undefined) layersActive(false);
      if (bad === undefined) {
        const grads = m.model.backward(dlogits, n);
        layersActive(false);
        // With skipping, look before touching anything, so a skipped batch changes nothing.
        if (control.skipNonFinite) bad = nonFiniteGradient(grads, m.params);
        if (bad === undefined) {
          try {
            m.inputs.stepTrain(grads, (k) => (hess ? { hessian: hess.inputs[k] } : {}));
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
        // Weights that are no longer finite make every later batch's loss non-finite: skipping cannot mend them.
        const broken = nonFiniteWeight(m.params);
        if (broken !== undefined) throw fail(broken);
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
      if (control.sync && pos.rows - lastSync >= control.sync.everyRows) {
        const end = await control.sync.run({ ...pos });
        lastSync = pos.rows;
        if (end === true) {
          earlyStopped = true;
          break run;
        }
      }
      if (control.shouldStop?.()) {
        stopped = true;
        break run;
      }
      if (control.evaluateEveryRows !== undefined && pos.rows - (pos.evaluatedRows ?? 0) >= control.evaluateEveryRows && await evaluate()) {
        earlyStopped = true;
        break run;
      }
      if (dueCheckpoint()) {
        await writes.take(() => control.checkpoint!({ ...pos }));
        lastCkptRows = pos.rows;
        lastCkptTime = seconds();
      }
    }
    // Every pass ends with an evaluation (unless one was just made).
    if (pos.rows > (pos.evaluatedRows ?? 0) && await evaluate()) {
      earlyStopped = true;
      break run;
    }
  }
  // The last step's finite gradients can still overflow the weights: no later loss would show it.
  const broken = nonFiniteWeight(m.params);
  if (broken !== undefined) throw new DivergenceError(pos.steps, [], source.paths?.[0] ?? source.path, broken);
  if (control.sync && pos.rows > lastSync) await control.sync.run({ ...pos });
  if (!stopped) {
    pos.done = true;
    pos.seen = 0;
    control.finish?.();
  }
  await writes.take(() => control.checkpoint?.({ ...pos }));
  await writes.settle();
  return { rows: pos.rows - rows0, seconds: seconds(), loss: pos.lossRows ? pos.lossSum / pos.lossRows : NaN, position: pos, stopped, earlyStopped };
}

/** What {@link trainModel} did. */
export interface TrainResult {
  /** Rows trained by this call (with several passes, rows x passes). */
  rows: number;
  seconds: number;
  /** Mean training log loss over every trained row of the run. */
  loss: number;
  position: TrainPosition;
  /** Stopped by control.shouldStop (Ctrl-C): the checkpoint continues it. */
  stopped: boolean;
  /** Stopped by an evaluation (early stopping): the run is complete. */
  earlyStopped: boolean;
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
