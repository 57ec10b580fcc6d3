/**
 * The default training schedule of `sparsectr train`, derived from the number
 * of training rows: batch size, maximum passes, evaluations and patience,
 * feature admission, embedding l2 and group lasso. Every value was chosen by
 * measurement across the shared real samples and generated data of several
 * sizes; docs/defaults.md holds the evidence. An explicit option overrides
 * its value.
 */

/** The settings the schedule decides. */
export interface Schedule {
  /** Rows per step. */
  batch: number;
  /** Most passes over the training rows (early stopping usually ends sooner). */
  epochs: number;
  /** Training rows between evaluations within a pass (undefined: after each pass only). */
  evalEvery: number | undefined;
  /** Evaluations without improvement before stopping. */
  patience: number;
  /** Feature admission: occurrences before a feature gets its own row. */
  minCount: number;
  /** Whether passes visit the rows in a new random order each (rows held in memory). */
  shuffle: boolean;
  /**
   * Whether the validation rows (the newest of the file) are trained on once
   * more after the run, when they have chosen the state and calibrated it.
   */
  refit: boolean;
}

/**
 * Group lasso strength per training row (`--sparsity`): the per-step l21 of
 * the group-* optimizers is this over the batch size. A row stays zero while
 * the norm of its dual accumulator (the sum of its batch-mean gradients, so
 * 1/batch of the sum of its per-row gradients) is under sqrt(d) l21: the
 * threshold in per-row units keeps its effect when the batch size changes.
 */
export const DEFAULT_SPARSITY = 0.25;

/** Training rows from which a file is trained in one streaming pass, in file order. */
export const ONE_PASS_ROWS = 200_000;

/** The default schedule for `rows` training rows (with validation rows to stop on). */
export function defaultSchedule(rows: number): Schedule {
  if (!(rows >= 0)) throw new RangeError(`training rows ${rows} must be a count`);
  if (rows >= ONE_PASS_ROWS) {
    // Large files: one pass in file order (the one-epoch regime of CTR
    // models), evaluated four times on the way; the validation rows, the
    // newest, train last.
    return { batch: 512, epochs: 1, evalEvery: Math.ceil(rows / 4), patience: 2, minCount: 2, shuffle: false, refit: true };
  }
  return { batch: batchFor(rows), epochs: 20, evalEvery: undefined, patience: 2, minCount: 2, shuffle: true, refit: false };
}

/** The schedule of a run without validation rows: one pass, as nothing can stop it. */
export function unvalidatedSchedule(rows: number): Schedule {
  return { ...defaultSchedule(rows), epochs: 1, evalEvery: undefined, refit: false };
}

/** The batch of a file trained in several passes: the power of two nearest rows / 50, within [32, 128]. */
export function batchFor(rows: number): number {
  return Math.min(128, Math.max(32, 2 ** Math.round(Math.log2(Math.max(rows, 1) / 50))));
}
