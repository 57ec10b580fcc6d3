/**
 * What the data-parallel trainer (./parallel.ts) and its worker threads
 * (./parallel-worker.ts) share: the words of the control block (Int32, in a
 * SharedArrayBuffer), the run's totals (Float64), the commands, and the data
 * a worker starts with.
 */
import type { ResolvedSettings } from "./model.js";
import type { ReadOptions } from "../data/types.js";
import type { DataErrorFields } from "../data/errors.js";
import type { TableShare } from "../optim/table-share.js";
import type { SharedAdmissionState } from "./shared-admission.js";

/** Int32 words of the control block. */
export const C_ARRIVED = 0; // workers at the round's first barrier (their batches are in)
export const C_ROUND = 1; // round generation (worker 0 bumps it once every worker stepped its dense rows)
export const C_STATE = 2; // what the last round decided: S_GO, S_PARK, S_EPOCH_END
export const C_PAUSE = 3; // the coordinator asks the workers to park at the next round
export const C_PARKED = 4; // workers parked
export const C_GEN = 5; // park generation (the coordinator bumps it to release)
export const C_COMMAND = 6; // what released workers do: K_CONTINUE, K_NEXT_EPOCH, K_STOP
export const C_NEED_ROOM = 7; // a table or the counts need more room before the next round
export const C_FAILED = 8; // a worker failed: every worker stops at the next barrier
export const C_OVER_BUDGET = 9; // a table is at its feature budget: the coordinator evicts (or stops the run)
export const C_STEP = 10; // first barrier generation (the last worker to arrive bumps it: every worker steps its dense rows)
export const C_STEPPED = 11; // workers other than worker 0 that stepped their dense rows this round
export const C_RELOAD = 12; // set with a release: the coordinator changed the dense states (posted to each worker) and the shared weights
export const CONTROL_WORDS = 16;

export const S_GO = 0;
export const S_PARK = 1;
export const S_EPOCH_END = 2;

export const K_CONTINUE = 0;
export const K_NEXT_EPOCH = 1;
export const K_STOP = 2;
/** Score a share of evaluation rows (the EvaluateMessage posted before the release), post the scores, and park again. */
export const K_EVALUATE = 3;

/** Float64 words of the totals block (written by worker 0 only, read by the coordinator). */
export const T_ROWS = 0; // rows trained in this run (all workers)
export const T_STEPS = 1; // rounds (one dense step each)
export const T_LOSS_SUM = 2; // sum of loss x rows over the run
export const T_RECENT = 3; // moving mean of the rounds' losses
export const T_EVAL_ROWS = 4; // rows at the last evaluation
export const T_CKPT_ROWS = 5; // rows at the last checkpoint
export const TOTAL_WORDS = 8;

/**
 * Per worker, Float64 words of the arrivals block: rows and loss of its
 * batch this round (rows 0 when it skipped the batch), whether it had a
 * batch this round, its next row, the batches it skipped in this run
 * (skipNonFinite); and with asynchronous dense updates (no rounds) its own
 * totals in this run: rows, loss x rows, steps, moving loss.
 */
export const A_ROWS = 0;
export const A_LOSS = 1;
export const A_SEEN = 2;
export const A_RUN_ROWS = 3;
export const A_RUN_LOSS = 4;
export const A_RUN_STEPS = 5;
export const A_RECENT = 6;
export const A_BATCH = 7;
export const A_RUN_SKIPPED = 8;
export const ARRIVAL_WORDS = 10;

/**
 * How the dense layers are updated: one step a round with the mean gradient
 * of the workers' batches (sync), one step a round per worker's batch
 * (sequential), by each worker on the shared weights as it goes (async), or
 * one batch a round split over the workers (split: each reads batch / N
 * rows, the tables take one step a round, the dense layers one step with the
 * round's mean gradient at the learning rate: the steps of one worker with
 * the whole batch).
 */
export const DENSE_UPDATES = ["sync", "sequential", "async", "split"] as const;
export type DenseUpdates = (typeof DENSE_UPDATES)[number];
/**
 * Whether a mode's dense steps are stale (each taken against weights up to
 * N - 1 steps old: sequential and async), so that their momentum is
 * compensated (./stale-momentum.ts); sync and split rounds take one step
 * with the round's gradient.
 */
export function staleSteps(mode: DenseUpdates): boolean {
  return mode === "sequential" || mode === "async";
}

/** What a run may ask for: a mode, or auto (the mode chosen from the rounds each worker makes: resolveDenseUpdates in ./parallel-plan.ts). */
export const DENSE_UPDATES_OPTIONS = ["auto", ...DENSE_UPDATES] as const;
export type DenseUpdatesOption = (typeof DENSE_UPDATES_OPTIONS)[number];
/** The default: auto (see resolveDenseUpdates). */
export const DEFAULT_DENSE_UPDATES: DenseUpdatesOption = "auto";

/**
 * The rows of each dense parameter each of `workers` workers steps in a
 * round (sync and sequential dense updates): the parameters' floats, in
 * model order, cut into `workers` ranges as even as whole rows allow (a row
 * goes to the worker whose range holds its first float), so the dense step's
 * work is spread over every worker instead of one. slices[w][i] holds
 * worker w's rows [start, end) of parameter i (empty where it has none).
 */
export function denseSlices(shapes: readonly { rows: number; rowLength: number }[], workers: number): { start: number; end: number }[][] {
  const P = shapes.reduce((a, s) => a + s.rows * s.rowLength, 0);
  const out = Array.from({ length: workers }, () => shapes.map(() => ({ start: 0, end: 0 })));
  let o = 0;
  shapes.forEach((s, i) => {
    const owner = (r: number): number => Math.min(workers - 1, Math.floor(((o + r * s.rowLength) * workers) / P));
    // Owners rise with the row: each worker's rows of the parameter are one range.
    for (let r = 0, w = -1; r < s.rows; r++) {
      const k = owner(r);
      if (k !== w) {
        out[k][i] = { start: r, end: r + 1 };
        w = k;
      } else out[k][i].end = r + 1;
    }
    o += s.rows * s.rowLength;
  });
  return out;
}

/** What a worker thread starts with. */
export interface WorkerInit {
  worker: number;
  workers: number;
  settings: ResolvedSettings;
  fields: number;
  paths: readonly string[];
  read: ReadOptions;
  /** This worker's rows of the training range (per pass) and where it continues in the first one. */
  part: { start: number; end: number };
  seen: number;
  epoch: number;
  tables: TableShare[];
  admission: SharedAdmissionState | undefined;
  /** The dense parameters' saved states (DenseParam.save): each worker steps its rows of them (denseSlices), or with async dense updates all of its own replica. */
  dense: Uint8Array[];
  /**
   * The dense steps are stale: each parameter steps with its momentum
   * compensated for this many stale workers (./stale-momentum.ts; N, or the
   * threads of every worker of a cluster run); 1: not compensated.
   */
  staleWorkers: number;
  /** Float length of each parameter, in model order (their values and gradients are concatenated). */
  paramSizes: number[];
  control: SharedArrayBuffer;
  totals: SharedArrayBuffer;
  arrivals: SharedArrayBuffer;
  /** N x P gradient floats (one block per worker) and P weight floats. */
  grads: SharedArrayBuffer;
  /** AdaHessian: N x P floats of the workers' Hessian estimates of the dense parameters (undefined for other rules). */
  hessians: SharedArrayBuffer | undefined;
  weights: SharedArrayBuffer;
  /** Worker 0 parks the run when these many rows passed since the last evaluation / checkpoint (0: never). */
  evalEveryRows: number;
  checkpointEveryRows: number;
  /** Ids one round of every worker may bring (roundIds): the room the workers check for before each batch, and the budget's margin. */
  roundIds: number;
  denseUpdates: DenseUpdates;
  /** Skip a batch whose loss or gradients are not finite (counted) instead of failing the run. */
  skipNonFinite: boolean;
  /**
   * The feature budget per table (0: none). With evict, worker 0 parks the
   * run for the coordinator to evict when a round could pass it; without,
   * when a round did.
   */
  maxFeatures: number;
  evict: boolean;
  /** The layer kernels' fused multiply-adds (configureLayers), as set on the thread that started the run. */
  fma: boolean;
}

/** The coordinator's message to a worker before a release with C_RELOAD: the dense parameters' new states (DenseParam.save). */
export interface ReloadMessage { kind: "reload"; dense: Uint8Array[] }

/**
 * The coordinator's message to a worker before a release with K_EVALUATE:
 * the rows `part` of the files `paths` opened with `read`, to score with
 * the model as it is (the shared weights and tables), as logits; the rows
 * held for the next evaluation when the scored file holds its rows.
 */
export interface EvaluateMessage {
  kind: "evaluate";
  paths: readonly string[];
  read: ReadOptions;
  part: { start: number; end: number };
  /** Bytes of rows the workers hold together (the scored file's heldBudget): each holds its share within its 1/N part; none when absent. */
  hold?: number;
}

/** What a worker posts. */
export type WorkerMessage =
  | { kind: "scores"; worker: number; scores: Float64Array; labels: Float32Array }
  | { kind: "parked"; worker: number; dense?: Uint8Array[]; end?: boolean }
  | { kind: "done"; worker: number }
  | { kind: "skip"; worker: number; error: DataErrorFields }
  | { kind: "error"; worker: number; message: string; stack?: string };
