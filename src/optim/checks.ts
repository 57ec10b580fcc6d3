export { namedErrors } from "../util/named-errors.js";
import type { Heap } from "../kernels/heap.js";
import { MAX_ROW, R_ADAHESSIAN } from "../kernels/layout.js";
import { ruleSpec, type OptimizerName } from "./hyper.js";

/** Options of one step. */
export interface StepOptions {
  /** AdaHessian only: the Hessian-diagonal estimate, same shape as the gradient. */
  hessian?: ArrayLike<number>;
  /** Learning rate for this step (a schedule); defaults to the optimizer's lr. */
  lr?: number;
}

export function ruleUsesHessian(name: OptimizerName): boolean {
  return ruleSpec(name).rule === R_ADAHESSIAN;
}

export function checkShape(name: string, rows: number, rowLength: number): void {
  if (!Number.isSafeInteger(rows) || rows < 1 || rows > 2 ** 30) throw new RangeError(`${name}: rows = ${rows} must be an integer in [1, 2^30]`);
  if (!Number.isSafeInteger(rowLength) || rowLength < 1 || rowLength > MAX_ROW) {
    throw new RangeError(`${name}: rowLength = ${rowLength} must be an integer in [1, ${MAX_ROW}]`);
  }
}

export function checkLr(name: string, lr: number | undefined, fallback: number): number {
  if (lr === undefined) return fallback;
  if (typeof lr !== "number" || !Number.isFinite(lr) || lr <= 0) throw new RangeError(`${name}: step lr = ${String(lr)} must be a finite number > 0`);
  return lr;
}

/** Copies n numbers into the heap at ptr after checking the length. */
export function copyInto(name: string, what: string, src: ArrayLike<number>, n: number, heap: Heap, ptr: number): void {
  if (src === null || typeof src !== "object" || typeof src.length !== "number") {
    throw new TypeError(`${name}: ${what} must be a Float32Array (or an array of numbers)`);
  }
  if (src.length !== n) throw new RangeError(`${name}: ${what} has ${src.length} values, expected ${n}`);
  if (src instanceof Float32Array) heap.f32.set(src, ptr >>> 2);
  else {
    const w = heap.f32, o = ptr >>> 2;
    for (let i = 0; i < n; i++) w[o + i] = src[i];
  }
}

/** Throws when findNonFinite found index bad (>= 0), naming the row and column. */
export function checkFinite(name: string, what: string, bad: number, d: number, rowLabel: (r: number) => string): void {
  if (bad < 0) return;
  throw new RangeError(
    `${name}: ${what} is not finite at ${rowLabel(Math.floor(bad / d))}, column ${bad % d}: the step was not applied`,
  );
}

