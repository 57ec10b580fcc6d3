/**
 * A run that diverges: the error naming the step and the batch's rows, and
 * the look for a non-finite gradient before a step (--skip-nonfinite), for
 * the deterministic trainer (./trainer.ts) and the data-parallel workers
 * (./parallel-worker.ts).
 */
import type { Param } from "../nn/param.js";

/** A run that diverged: the loss or a gradient of a batch is not finite. */
export class DivergenceError extends Error {
  readonly firstLine: number;
  readonly lastLine: number;
  constructor(readonly step: number, lines: ArrayLike<number>, readonly file: string, detail: string) {
    super(`training diverged at step ${step} (rows on ${lineList(lines)} of ${file}): ${detail}; the model of the last checkpoint is kept (--skip-nonfinite skips such batches)`);
    this.firstLine = lines[0];
    this.lastLine = lines[lines.length - 1];
    this.name = "DivergenceError";
  }
}

/** "lines 5..9" for consecutive lines, else the first few (shuffled batches). */
function lineList(lines: ArrayLike<number>): string {
  const n = lines.length;
  let consecutive = true;
  for (let i = 1; i < n && consecutive; i++) consecutive = lines[i] === lines[i - 1] + 1;
  if (consecutive) return `lines ${lines[0]}..${lines[n - 1]}`;
  const first = Array.from({ length: Math.min(n, 5) }, (_, i) => lines[i]).join(", ");
  return `lines ${first}${n > 5 ? ` and ${n - 5} more` : ""}`;
}

/** The first non-finite gradient of a step (the tables' input gradients, then the dense parameters'), described; undefined when all are finite. */
export function nonFiniteGradient(grads: readonly Float32Array[], params: readonly Pick<Param, "name" | "grad">[]): string | undefined {
  for (let k = 0; k < grads.length; k++) {
    const g = grads[k];
    for (let i = 0; i < g.length; i++) if (!Number.isFinite(g[i])) return `gradient of table ${k} at position ${i} is ${g[i]}`;
  }
  for (const p of params) {
    const g = p.grad;
    for (let i = 0; i < g.length; i++) if (!Number.isFinite(g[i])) return `gradient of ${p.name} at ${i} is ${g[i]}`;
  }
  return undefined;
}
