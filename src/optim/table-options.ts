/** The options of a sparse table (row length, seed, initialiser), checked, and the id arguments its methods take. */
import type { FeatureIds } from "./ids.js";

/** How new rows are initialised: a pure function of (seed, id), whatever the order ids arrive in. */
export type RowInit =
  | "zeros"
  | { uniform: readonly [number, number] }
  | { normal: { mean?: number; std: number } };

/** Options of a sparse table. */
export interface TableOptions {
  /** Row length d (embedding width). */
  rowLength: number;
  /** Seed of the row initialiser (unsigned 32-bit). Default 0. */
  seed?: number;
  /** Initial values of new rows. Default `{ normal: { std: 1e-4 } }`. */
  init?: RowInit;
}

export function parseInit(name: string, init: RowInit): [number, number, number] {
  if (init === "zeros") return [0, 0, 0];
  const ok = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  if (init && typeof init === "object" && "uniform" in init) {
    const [lo, hi] = init.uniform ?? [];
    if (ok(lo) && ok(hi) && lo <= hi) return [1, lo, hi];
  } else if (init && typeof init === "object" && "normal" in init) {
    const mean = init.normal?.mean ?? 0, std = init.normal?.std;
    if (ok(mean) && ok(std) && std >= 0) return [2, mean, std];
  }
  throw new RangeError(`${name}: init ${JSON.stringify(init)} is invalid: use "zeros", { uniform: [low, high] } or { normal: { mean?, std } }`);
}

export function idCount(name: string, ids: FeatureIds): number {
  if (ids === null || typeof ids !== "object" || typeof (ids as ArrayLike<unknown>).length !== "number") {
    throw new TypeError(`${name}: ids must be a BigUint64Array, Uint32Array, Int32Array, Float64Array or an array`);
  }
  return ids.length;
}

export function idAt(ids: FeatureIds, i: number): number | bigint {
  return (ids as ArrayLike<number | bigint>)[i];
}
