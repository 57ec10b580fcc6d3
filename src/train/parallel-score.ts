/**
 * Evaluations in the data-parallel workers (./parallel.ts): the validation
 * rows are cut into one contiguous share per parked worker, each worker
 * scores its share with the shared model (./parallel-worker.ts) as logits,
 * and the coordinator calibrates them and adds the scores up in row order,
 * so the figures are evaluateModel's (./evaluate.ts) while every core reads
 * and scores; the logits come back with them (Evaluation.logits).
 */
import type { DataFile } from "../data/types.js";
import { heldBudget } from "../data/held.js";
import { evaluateLogits } from "./evaluate.js";
import { evaluateThreads, joinShares } from "./score-threads.js";
import type { CtrModel } from "./model.js";
import { splitRows } from "./parallel-plan.js";
import type { EvaluateMessage } from "./parallel-protocol.js";
import type { Scorer } from "./trainer.js";
import type { ScoredShare } from "./score-share.js";

/** What the scorer needs of the coordinator, while the workers are parked. */
export interface ScoreHost {
  model: CtrModel;
  workers: number;
  /** Rows per batch the workers read (their scratch is sized for the training batch). */
  batch: number;
  /** Posts worker w its share, before the release. */
  post(w: number, msg: EvaluateMessage): void;
  /**
   * Releases the parked workers to score (K_EVALUATE), and resolves with
   * every worker's scores once every worker is parked again. Before it
   * first waits, the model is whole (the data-parallel trainer converts the
   * workers' admission counts meanwhile: ./parallel.ts).
   */
  score(): Promise<readonly ScoredShare[]>;
}

/**
 * A Scorer (TrainControl.evaluate's) that has the parked workers score the
 * rows: those of a range with an end (the validation rows of the training
 * files), unless bad rows are skipped (their reports belong to the
 * training pass); other evaluations are evaluateThreads' (scoring threads
 * of their own where they pay, else this thread). Either way the figures
 * come with the logits. A file that holds its rows (data/held.ts) has each
 * worker hold its share for the next evaluations. When the returned
 * promise is made, the workers score and the model is whole: the caller may
 * read it meanwhile (EarlyStopping copies it then: ./validation.ts).
 */
export function workerScorer(host: ScoreHost): Scorer {
  return async (file: DataFile, range?: { start?: number; end?: number }) => {
    const end = range?.end;
    // (The model's counts, where deferred, are taken when evaluateThreads reads them: CtrModel.deferAdmission.)
    if (end === undefined || file.options.skipBadRows === true) return evaluateThreads(host.model, file, range, host.workers, { logits: true });
    const read = { ...file.options, onSkip: undefined, range: undefined, batchSize: host.batch };
    const hold = heldBudget(file);
    splitRows(range?.start ?? 0, end, host.workers).forEach((part, w) => host.post(w, { kind: "evaluate", paths: file.paths, read, part, ...(hold !== undefined ? { hold } : {}) }));
    return evaluateLogits(host.model.calibration, joinShares(await host.score()));
  };
}
