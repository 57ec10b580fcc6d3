/**
 * Validation-driven training: evaluations of a model on held-out rows during
 * training (trainModel's `control.evaluate`), the curve they draw, the best
 * state by the monitored metric (kept as a saved copy of the training state),
 * early stopping after `patience` evaluations without improvement, and the
 * restoration of the best state at the end (Keras' EarlyStopping with
 * restore_best_weights; FuxiCTR's and the BARS benchmark's recipe). The
 * best evaluation's logits, where the scorer gave them, are kept for the
 * calibration of the model it restores.
 */
import type { DataFile } from "../data/types.js";
import { DenseParam } from "../optim/dense.js";
import { loadTable } from "../optim/sharded.js";
import { Admission } from "./admission.js";
import type { CtrModel } from "./model.js";
import { type Scorer, type TrainPosition } from "./trainer.js";
import { evaluateModel, type Evaluation, type Logits } from "./evaluate.js";
import { sealEnvelope } from "../io/envelope.js";

/** The metrics early stopping may watch. */
export type Monitor = "auc" | "logloss";
export const MONITORS: readonly Monitor[] = ["auc", "logloss"];

/** One evaluation of the validation rows. */
export interface EvalPoint {
  /** Training rows seen (rows x passes) when evaluated. */
  rows: number;
  /** The pass (1-based) the evaluation fell in or ended. */
  epoch: number;
  steps: number;
  auc: number;
  logloss: number;
  liveFeatures: number;
  features: number;
}

/** The saved training state of the best evaluation. */
export interface StateCopy {
  tables: Uint8Array[];
  dense: Uint8Array[];
  admission?: Uint8Array;
  /** Copied without the parts' CRCs (copyState's `seal` false): sealState writes them before the bytes are read back or written. */
  unsealed?: boolean;
}

/** What a checkpoint records of a validation-driven run besides the best state's bytes. */
export interface ValidationRecord {
  curve: EvalPoint[];
  /** Index in curve of the best evaluation, -1 before the first. */
  best: number;
  /** Evaluations since the best one. */
  bad: number;
  /** Whether the model's current state is the best one (then no copy is kept). */
  bestIsCurrent: boolean;
}

/** Options of {@link EarlyStopping}. */
export interface EarlyStoppingOptions {
  monitor: Monitor;
  /** Evaluations without improvement before the run stops. */
  patience: number;
  /** Called after each evaluation (progress lines, metrics files). */
  onEvaluation?: (p: EvalPoint, best: boolean) => void;
  /** How an evaluation scores the rows when the trainer gives no scorer of its own (default evaluateModel, on this thread). */
  score?: Scorer;
}

/**
 * The copy of a model's whole training state, as bytes; over the memory of
 * `reuse` (an earlier copy no longer needed) where it fits, which spares
 * the page faults of fresh memory (see encodeEnvelopeInto). With `seal`
 * false the parts' CRCs are left to sealState: a copy taken while workers
 * wait does only the copying then.
 */
export function copyState(m: CtrModel, reuse?: StateCopy, seal = true): StateCopy {
  return {
    tables: m.tables.map((t, i) => t.save(reuse?.tables[i], seal)),
    dense: m.dense.map((d, i) => d.save(reuse?.dense[i], seal)),
    admission: m.admission?.save(reuse?.admission, seal),
    ...(seal ? {} : { unsealed: true }),
  };
}

/** Writes the CRCs of an unsealed copy's parts (nothing for a sealed one). */
export function sealState(s: StateCopy): void {
  if (!s.unsealed) return;
  for (const b of [...s.tables, ...s.dense, ...(s.admission ? [s.admission] : [])]) sealEnvelope(b);
  delete s.unsealed;
}

/** Puts a copied state back into a model of the same architecture. */
export function restoreState(m: CtrModel, s: StateCopy): void {
  sealState(s);
  m.replaceState(s.tables.map((b) => loadTable(b)), s.dense.map((b) => DenseParam.load(b)), s.admission ? Admission.load(s.admission) : undefined);
}

/** Evaluations, the best state and the stopping rule of one run. */
export class EarlyStopping {
  readonly curve: EvalPoint[] = [];
  private bestAt = -1;
  private bad = 0;
  private copy: StateCopy | undefined;
  /** A copy no longer needed, whose memory the next copy reuses (never one that record() gave out: a checkpoint may still be writing it). */
  private spare: StateCopy | undefined;
  private copyLent = false;
  private bestIsCurrent = false;
  /** The logits of the best evaluation, where its scorer gave them. */
  private logits: Logits | undefined;
  /**
   * The state copied while the trainer's scorer ran (the data-parallel
   * workers score while this thread is idle): the best state's copy if the
   * evaluation is the best, else memory for the next copy.
   */
  private ahead: StateCopy | undefined;

  constructor(
    private readonly m: CtrModel,
    private readonly validation: { file: DataFile; range?: { start?: number; end?: number } },
    private readonly opts: EarlyStoppingOptions,
  ) {
    if (!Number.isSafeInteger(opts.patience) || opts.patience < 1) throw new RangeError(`patience ${opts.patience} must be an integer >= 1`);
    if (!MONITORS.includes(opts.monitor)) throw new RangeError(`monitor ${JSON.stringify(opts.monitor)} is not one of ${MONITORS.join(", ")}`);
  }

  /** The best evaluation so far. */
  get best(): EvalPoint | undefined { return this.bestAt >= 0 ? this.curve[this.bestAt] : undefined; }

  /**
   * The logits of the validation rows under the model's state, when that
   * is the best evaluation's (the last one, or restored by restoreBest) and
   * its scorer gave them; undefined otherwise. A calibration fit on them is
   * the one fit on a new scoring of the rows (the same logits bit for bit).
   */
  get bestLogits(): Logits | undefined { return this.bestIsCurrent ? this.logits : undefined; }

  /** Evaluates the model now (with the trainer's `score`, if it gives one); resolves to true when the run should stop. For trainModel's control.evaluate. */
  readonly evaluate = async (pos: TrainPosition, score?: Scorer, last = false): Promise<boolean> => {
    // A model whose scores are no longer finite (a diverged run with
    // --skip-nonfinite) evaluates as the worst: it is never the best state.
    const { file, range } = this.validation;
    const scorer = score ?? this.opts.score;
    const scoring = scorer ? scorer(file, range) : evaluateModel(this.m, file, range);
    // A copy taken at an earlier evaluation (not the best) is memory for this one.
    if (this.ahead !== undefined) {
      this.spare ??= this.ahead;
      this.ahead = undefined;
    }
    // The trainer's scorer scores on other threads, the model whole and
    // unchanged until the next step (./parallel-score.ts): the state is
    // copied meanwhile, for beforeStep should this be the best evaluation
    // (unless no step follows: beforeStep is not called then).
    if (score !== undefined && !last) this.ahead = this.copyNow();
    const r: Evaluation = await scoring.catch((e: unknown) => {
      if (e instanceof RangeError && /NaN|not finite/.test(e.message)) return { auc: NaN, logloss: Infinity, rows: 0 };
      throw e;
    });
    const p: EvalPoint = {
      rows: pos.rows, epoch: pos.epoch + 1, steps: pos.steps, auc: r.auc, logloss: r.logloss,
      liveFeatures: this.m.liveFeatures, features: this.m.features,
    };
    this.curve.push(p);
    const b = this.best;
    const better = !Number.isNaN(p.auc) && (b === undefined || (this.opts.monitor === "auc" ? p.auc > b.auc : p.logloss < b.logloss));
    if (better) {
      this.bestAt = this.curve.length - 1;
      this.bad = 0;
      this.logits = r.logits;
      // The state is copied only when training goes on from it: see restoreBest.
      if (!this.copyLent) this.spare = this.copy ?? this.spare;
      this.copy = undefined;
      this.bestIsCurrent = true;
    } else {
      if (this.bestIsCurrent) throw new Error("early stopping: the best state was not kept before training went on");
      this.bad++;
    }
    this.opts.onEvaluation?.(p, better);
    return this.bad >= this.opts.patience;
  };

  /**
   * For trainModel's control.beforeStep: before the model trains on after an
   * evaluation, keeps a copy of the state when it is the best so far (lazily,
   * so that a run whose last evaluation is its best copies nothing).
   */
  readonly beforeStep = (): void => {
    if (!this.bestIsCurrent) return;
    // Unsealed: the CRCs are written only if the copy is read back or written (sealState). Taken while the trainer's scorer ran, if it was.
    this.copy = this.ahead ?? this.copyNow();
    this.ahead = undefined;
    this.copyLent = false;
    this.bestIsCurrent = false;
  };

  /** The model's state copied now, unsealed, over the spare's memory. */
  private copyNow(): StateCopy {
    const c = copyState(this.m, this.spare, false);
    this.spare = undefined;
    return c;
  }

  /** Puts the best state back into the model (nothing to do when it is the current one); true when it changed the model. */
  restoreBest(): boolean {
    if (this.bestIsCurrent || this.bestAt < 0) return false;
    restoreState(this.m, this.copy!);
    this.bestIsCurrent = true;
    this.copy = undefined;
    return true;
  }

  /** The record a checkpoint keeps, and the best state's bytes when that is not the current state. */
  record(): { record: ValidationRecord; copy: StateCopy | undefined } {
    if (this.copy !== undefined) this.copyLent = true;
    return { record: { curve: this.curve.map((p) => ({ ...p })), best: this.bestAt, bad: this.bad, bestIsCurrent: this.bestIsCurrent }, copy: this.copy };
  }

  /** Continues from a checkpoint's record (with the best state's bytes when it kept them). */
  resume(r: ValidationRecord, copy: StateCopy | undefined): void {
    if (!r.bestIsCurrent && r.best >= 0 && copy === undefined) throw new Error("early stopping: the checkpoint lacks the best state");
    this.curve.splice(0, this.curve.length, ...r.curve);
    this.bestAt = r.best;
    this.bad = r.bad;
    this.bestIsCurrent = r.bestIsCurrent;
    // A checkpoint keeps no logits: the calibration scores the rows again.
    this.logits = undefined;
    this.copy = copy;
    // Its bytes may lie in the checkpoint's buffer with others: never written over.
    this.copyLent = copy !== undefined;
  }
}
