/**
 * The dense steps of the data-parallel workers (./parallel-worker.ts), on
 * the gradients the workers leave in shared memory: a round's step of one
 * worker's rows of the parameters (sequential: each worker's batch gradient
 * in turn; sync: one step with the round's mean gradient at N times the
 * learning rate), an asynchronous step of a worker's replica added to
 * the shared weights, and the model's dense states gathered from the parked
 * workers' (./parallel.ts).
 */
import { DenseParam } from "../optim/dense.js";
import type { DenseUpdates } from "./parallel-protocol.js";

/** One round's gradients: every worker's block of P floats (parameters concatenated in model order), and its batch's rows (0: none, or skipped). */
export interface RoundGradients {
  /** Worker k's mean batch gradient. */
  block(k: number): Float32Array;
  /** Worker k's Hessian estimate (AdaHessian), beside its gradient. */
  hessian?(k: number): Float32Array;
  /** Rows of worker k's batch. */
  rows(k: number): number;
}

/**
 * A worker's dense step of each round: of its rows of each parameter
 * (`slices`: its rows of parameter i, denseSlices), written to the shared
 * `weights`. Sequential: each worker's batch gradient in turn, one step
 * each at the step's learning rate, as one worker would take them
 * (computed against the round's weights). Sync: one step with the mean
 * gradient over every row of the round at N times the learning rate (the
 * linear scaling rule: one step takes the rows of N batches), summed in
 * worker order in the parameter's memory (DenseParam.stepSum, as
 * `sum += g * w` on a Float32Array); with one worker the weight is exactly
 * 1. The Hessian estimates are averaged alike. Split: the round is one
 * batch, and each worker's gradient its rows' share of the batch's mean:
 * their sum, one step at the learning rate. Nothing when the round had no
 * rows. Made once a worker: the gradients' views and the sums' lists are
 * kept, so that a round allocates next to nothing.
 */
export class RoundStep {
  /** Per parameter, each worker's gradient (and Hessian estimate) of this worker's rows of it: views made once. */
  private readonly grads: Float32Array[][];
  private readonly hessians: Float32Array[][] | undefined;
  /** The arrays and weights of a sum, refilled each round (no allocation a round). */
  private readonly arrays: Float32Array[] = [];
  private readonly weightsOf: number[] = [];
  private readonly hessianSum: { arrays: Float32Array[]; weights: number[] } = { arrays: [], weights: [] };
  /** Sequential: the options of worker k's step of parameter i (its learning rate and Hessian estimate). */
  private readonly stepOpts: { lr: number; hessian?: Float32Array }[][];
  /** Per parameter, this worker's rows of it in the shared weights. */
  private readonly shared: Float32Array[];

  constructor(
    private readonly mode: Exclude<DenseUpdates, "async">, private readonly dense: readonly DenseParam[],
    private readonly slices: readonly { start: number; end: number }[], private readonly g: RoundGradients,
    private readonly workers: number, weights: Float32Array,
  ) {
    // Parameter i starts at at[i] of a block (parameters concatenated in model order).
    const at: number[] = [];
    for (let i = 0, o = 0; i < dense.length; o += dense[i].rows * dense[i].rowLength, i++) at.push(o);
    const mine = (i: number): [number, number] => [at[i] + slices[i].start * dense[i].rowLength, at[i] + slices[i].end * dense[i].rowLength];
    const views = (block: (k: number) => Float32Array): Float32Array[][] => dense.map((_, i) => Array.from({ length: workers }, (_, k) => block(k).subarray(...mine(i))));
    this.grads = views((k) => g.block(k));
    this.hessians = g.hessian ? views(g.hessian) : undefined;
    this.stepOpts = dense.map((d, i) => Array.from({ length: workers }, (_, k) => ({ lr: d.hyper.lr, ...(this.hessians ? { hessian: this.hessians[i][k] } : {}) })));
    this.shared = dense.map((_, i) => weights.subarray(...mine(i)));
  }

  /** This round's step (see the class's comment). */
  step(): void {
    const { dense, g, workers } = this;
    let rows = 0;
    for (let k = 0; k < workers; k++) rows += g.rows(k);
    if (rows === 0) return;
    for (let i = 0; i < dense.length; i++) {
      const mine = this.slices[i], grads = this.grads[i], hessians = this.hessians?.[i];
      if (this.mode === "sequential") {
        for (let k = 0; k < workers; k++) {
          if (g.rows(k) > 0) dense[i].step(grads[k], this.stepOpts[i][k], mine);
        }
      } else {
        // Split: each gradient block is its rows' share of the round's mean already (./parallel-worker.ts
        // scales it): summed, at the learning rate; the Hessian estimates (each its batch's mean) are averaged.
        // Worker 0's block and those of the workers with rows, in worker order (DenseParam.stepSum).
        const split = this.mode === "split", arrays = this.arrays, ws = this.weightsOf, hs = this.hessianSum;
        // The lists keep their length while it does not change (emptied, an array's storage would be made again each round).
        let c = 0;
        for (let k = 0; k < workers; k++) if (k === 0 || g.rows(k) > 0) c++;
        if (arrays.length !== c) arrays.length = ws.length = hs.arrays.length = hs.weights.length = c;
        c = 0;
        for (let k = 0; k < workers; k++) {
          const r = g.rows(k);
          if (k > 0 && r === 0) continue;
          arrays[c] = grads[k];
          ws[c] = split ? (r > 0 ? 1 : 0) : r / rows;
          if (hessians) {
            hs.arrays[c] = hessians[k];
            hs.weights[c] = r / rows;
          }
          c++;
        }
        dense[i].stepSum(arrays, ws, dense[i].hyper.lr * (split ? 1 : workers), hessians ? hs : undefined, mine);
      }
      // Taken each round (one view): a reload replaces the parameters, and an unshared memory that grows detaches its views.
      this.shared[i].set(dense[i].view(mine));
    }
  }
}

/**
 * An asynchronous step: each parameter of the worker's replica takes the
 * shared weights as they are, steps with the worker's gradient (and Hessian
 * estimate) and adds its change to the shared weights (racing with the other
 * workers' changes, as Hogwild does). `scratch` holds the largest parameter.
 */
export function stepShared(
  dense: readonly DenseParam[], grads: readonly Float32Array[], hessians: readonly Float32Array[] | undefined, weights: Float32Array, scratch: Float32Array,
): void {
  let o = 0;
  for (let i = 0; i < dense.length; i++) {
    const len = dense[i].rows * dense[i].rowLength, shared = weights.subarray(o, o + len);
    scratch.set(shared);
    dense[i].view().set(scratch.subarray(0, len));
    dense[i].step(grads[i], hessians ? { hessian: hessians[i] } : {});
    const x = dense[i].view();
    for (let j = 0; j < len; j++) shared[j] += x[j] - scratch[j];
    o += len;
  }
}

/**
 * The model's dense parameters from the parked workers' saved states
 * (`states[w][i]`: worker w's parameter i; all of them posted with sync or
 * sequential updates, worker 0's with async): with async updates worker 0's
 * moments and the shared weights; else each worker's own rows of each
 * parameter (`slices[w][i]`, denseSlices; the other rows in its copy are
 * stale), over worker 0's. Each new parameter replaces the old, which is
 * disposed, in `dense`, and its weights go to `values[i]`.
 */
export function gatherDense(
  mode: DenseUpdates, dense: DenseParam[], values: readonly Float32Array[], states: readonly (readonly Uint8Array[] | undefined)[],
  slices: readonly (readonly { start: number; end: number }[])[], weights: Float32Array,
): void {
  let o = 0;
  dense.forEach((d, i) => {
    const len = d.rows * d.rowLength, next = DenseParam.load(states[0]![i], d.arena);
    if (mode === "async") next.view().set(weights.subarray(o, o + len));
    else {
      for (let w = 1; w < states.length; w++) {
        const { start, end } = slices[w][i];
        if (start === end) continue;
        const part = DenseParam.load(states[w]![i], d.arena);
        next.copyRows(part, start, end);
        part.dispose();
      }
    }
    o += len;
    d.dispose();
    dense[i] = next;
    values[i].set(next.view());
  });
}
