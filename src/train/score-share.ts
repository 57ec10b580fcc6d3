/**
 * One thread's share of an evaluation: its contiguous rows of a file scored
 * with a model's forward pass (no row created), as logits, with their
 * labels, in row order (the caller calibrates them: ./evaluate.ts
 * evaluateLogits). The data-parallel workers score their shares with it while parked (./parallel-worker.ts),
 * and the scoring threads after a run (./score-thread.ts).
 */
import type { Batch } from "../data/batch.js";
import type { DataFile } from "../data/types.js";

/** A share's logits and their labels, in row order. */
export interface ScoredShare { scores: Float64Array; labels: Float32Array }

/**
 * Scores rows [part.start, part.end) of `file` with `forward` (a batch's
 * logits, float32 as CtrModel.logits reads them).
 */
export async function scoreShare(forward: (b: Batch) => Float32Array, file: DataFile, part: { start: number; end: number }): Promise<ScoredShare> {
  const scores = new Float64Array(Math.max(0, part.end - part.start)), labels = new Float32Array(scores.length);
  let n = 0;
  for await (const b of file.batches(part)) {
    if (n + b.rows > scores.length) throw new Error(`${file.path}: rows ${part.start}-${part.end} gave more rows than the range holds`);
    const z = forward(b);
    for (let i = 0; i < b.rows; i++) scores[n + i] = z[i];
    labels.set(b.labels.subarray(0, b.rows), n);
    n += b.rows;
  }
  return { scores: scores.subarray(0, n), labels: labels.subarray(0, n) };
}
