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
  /** `lines` are the batch's rows; none when the run's end found the weights non-finite. */
  constructor(readonly step: number, lines: ArrayLike<number>, readonly file: string, detail: string) {
    const rows = lines.length > 0 ? ` (rows on ${lineList(lines)} of ${file})` : ` (training on ${file})`;
    super(`training diverged at step ${step}${rows}: ${detail}; the model of the last checkpoint is kept (--skip-nonfinite skips batches whose loss or gradient is not finite)`);
    this.firstLine = lines.length > 0 ? lines[0] : 0;
    this.lastLine = lines.length > 0 ? lines[lines.length - 1] : 0;
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

/**
 * The first non-finite dense weight, described; undefined when all are
 * finite. A step whose finite gradient overflows the weights (or, with
 * asynchronous workers, a torn read of them) leaves every later loss
 * non-finite: --skip-nonfinite cannot mend that, so the run stops.
 */
export function nonFiniteWeight(params: readonly Pick<Param, "name" | "value">[]): string | undefined {
  for (const p of params) {
    const v = p.value;
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return `the weight ${p.name} at ${i} is ${v[i]}, which skipping batches cannot mend`;
  }
  return undefined;
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
