/**
 * A data-parallel run's totals in shared memory, as the coordinator
 * (./parallel.ts) and its workers (./parallel-worker.ts) write and read
 * them (the words: ./parallel-protocol.ts T_* and A_*): each worker's
 * arrival words (its round's batch, its next row, the batches it skipped,
 * and with asynchronous updates its own running totals) and the run's
 * totals, added up by worker 0 at the end of each round (closeRound) or,
 * with asynchronous updates (no rounds), by the coordinator (sumAsync);
 * and the run's position from them.
 */
import type { TrainPosition } from "./trainer.js";
import {
  A_BATCH, A_LOSS, A_RECENT, A_ROWS, A_RUN_LOSS, A_RUN_ROWS, A_RUN_SKIPPED, A_RUN_STEPS, A_SEEN, ARRIVAL_WORDS,
  T_CKPT_ROWS, T_EVAL_ROWS, T_LOSS_SUM, T_RECENT, T_ROWS, T_STEPS, TOTAL_WORDS,
} from "./parallel-protocol.js";

/** The run's totals at the start of a run with asynchronous updates, which the workers' own totals add to. */
export interface LedgerBase {
  rows: number;
  steps: number;
  lossSum: number;
  skipped: number;
}

export class RunLedger {
  readonly totals: Float64Array;
  readonly arrivals: Float64Array;

  /** Over the buffers of another thread's ledger, or new ones. */
  constructor(readonly workers: number, buffers?: { totals: SharedArrayBuffer; arrivals: SharedArrayBuffer }) {
    this.totals = new Float64Array(buffers?.totals ?? new SharedArrayBuffer(TOTAL_WORDS * 8));
    this.arrivals = new Float64Array(buffers?.arrivals ?? new SharedArrayBuffer(workers * ARRIVAL_WORDS * 8));
  }

  /** A run's ledger from its position (the start, or a checkpoint's): each worker's next row as the position has it, else its part's start. */
  static start(workers: number, pos: TrainPosition, starts: readonly number[]): RunLedger {
    const l = new RunLedger(workers), t = l.totals;
    starts.forEach((start, w) => { l.arrivals[w * ARRIVAL_WORDS + A_SEEN] = pos.parts?.[w] ?? start; });
    t[T_ROWS] = pos.rows;
    t[T_STEPS] = pos.steps;
    t[T_LOSS_SUM] = pos.lossSum;
    // The moving loss of a resumed run starts from its mean loss so far (a new run's from its first round's).
    t[T_RECENT] = pos.lossRows > 0 ? pos.lossSum / pos.lossRows : 0;
    t[T_EVAL_ROWS] = pos.evaluatedRows ?? pos.rows;
    t[T_CKPT_ROWS] = pos.rows;
    return l;
  }

  /** The buffers, for the workers. */
  get buffers(): { totals: SharedArrayBuffer; arrivals: SharedArrayBuffer } {
    return { totals: this.totals.buffer as SharedArrayBuffer, arrivals: this.arrivals.buffer as SharedArrayBuffer };
  }

  /** Worker w's next row. */
  seen(w: number): number { return this.arrivals[w * ARRIVAL_WORDS + A_SEEN]; }
  /** The rows of worker w's batch this round (0: none, or skipped). */
  rows(w: number): number { return this.arrivals[w * ARRIVAL_WORDS + A_ROWS]; }

  /** Worker w's round: its batch's rows (0 when skipped) and mean loss, whether it had a batch, and its next row. */
  arrive(w: number, rows: number, had: number, loss: number, seen: number): void {
    const a = this.arrivals, o = w * ARRIVAL_WORDS;
    a[o + A_ROWS] = rows;
    a[o + A_BATCH] = had;
    a[o + A_LOSS] = loss;
    a[o + A_SEEN] = seen;
  }

  /** Worker w skipped a batch (skipNonFinite). */
  skipped(w: number): void { this.arrivals[w * ARRIVAL_WORDS + A_RUN_SKIPPED]++; }

  /**
   * Worker 0 once every worker arrived: adds the round's rows and loss to
   * the run's totals and counts its step (`onStep` then runs), when it had
   * rows; returns the batches the workers had (0: the pass has ended).
   */
  closeRound(onStep: () => void): number {
    const a = this.arrivals, t = this.totals;
    let rows = 0, lossRows = 0, batches = 0;
    for (let k = 0; k < this.workers; k++) {
      const o = k * ARRIVAL_WORDS;
      batches += a[o + A_BATCH];
      rows += a[o + A_ROWS];
      lossRows += a[o + A_LOSS] * a[o + A_ROWS];
    }
    if (rows > 0) {
      const loss = lossRows / rows;
      t[T_ROWS] += rows;
      t[T_STEPS] += 1;
      onStep();
      t[T_LOSS_SUM] += lossRows;
      t[T_RECENT] = t[T_STEPS] === 1 ? loss : 0.98 * t[T_RECENT] + 0.02 * loss;
    }
    return batches;
  }

  /** Whether `every` rows (> 0) were trained since the totals' word `last` (T_EVAL_ROWS, T_CKPT_ROWS). */
  due(every: number | undefined, last: number): boolean {
    return every !== undefined && every > 0 && this.totals[T_ROWS] - this.totals[last] >= every;
  }

  /** Asynchronous updates: worker w's step of `rows` rows of mean `loss`, its `steps`-th in this run, its next row `seen`. */
  stepped(w: number, rows: number, loss: number, steps: number, seen: number): void {
    const a = this.arrivals, o = w * ARRIVAL_WORDS;
    a[o + A_SEEN] = seen;
    a[o + A_RUN_ROWS] += rows;
    a[o + A_RUN_LOSS] += loss * rows;
    a[o + A_RUN_STEPS] = steps;
    a[o + A_RECENT] = steps === 1 ? loss : 0.98 * a[o + A_RECENT] + 0.02 * loss;
  }

  /** Asynchronous updates: worker w's next row, past a skipped batch. */
  passed(w: number, seen: number): void { this.arrivals[w * ARRIVAL_WORDS + A_SEEN] = seen; }

  /** Asynchronous updates: the run's totals as `base` plus the workers' own (the recent loss their mean). */
  sumAsync(base: LedgerBase): void {
    const a = this.arrivals, t = this.totals, N = this.workers;
    let rows = base.rows, steps = base.steps, loss = base.lossSum, recent = 0;
    for (let w = 0; w < N; w++) {
      const o = w * ARRIVAL_WORDS;
      rows += a[o + A_RUN_ROWS];
      loss += a[o + A_RUN_LOSS];
      steps += a[o + A_RUN_STEPS];
      recent += a[o + A_RECENT] / N;
    }
    t[T_ROWS] = rows;
    t[T_STEPS] = steps;
    t[T_LOSS_SUM] = loss;
    t[T_RECENT] = recent;
  }

  /** The run's position from the totals: rows, steps, loss, skipped batches (over `skippedBefore`) and each worker's next row. */
  position(pos: TrainPosition, skippedBefore: number): void {
    const t = this.totals;
    pos.rows = t[T_ROWS];
    pos.steps = t[T_STEPS];
    pos.lossSum = t[T_LOSS_SUM];
    pos.lossRows = pos.rows;
    pos.skippedBatches = skippedBefore;
    for (let w = 0; w < this.workers; w++) pos.skippedBatches += this.arrivals[w * ARRIVAL_WORDS + A_RUN_SKIPPED];
    pos.parts = Array.from({ length: this.workers }, (_, w) => this.seen(w));
    pos.seen = 0;
  }
}
