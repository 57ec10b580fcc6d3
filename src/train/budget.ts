/**
 * The feature budget of a run (--max-features, --max-memory): the check
 * before a batch adds its rows, and its eviction or its error.
 */
import type { CtrModel } from "./model.js";
import { bytesPerFeature } from "./model.js";

/** The feature budget of a run (part of trainModel's TrainControl). */
export interface BudgetControl {
  /** At most this many rows (features) per table. */
  maxFeatures?: number;
  /**
   * What to do at maxFeatures: "stop" (default) throws a MemoryBudgetError
   * before the batch that would exceed it; "evict" removes rows (zero rows
   * first, then the least updated: SparseTable.evictTo) down to 80% of the
   * budget less one batch's ids.
   */
  onFull?: "stop" | "evict";
  /** Called after each eviction. */
  onEvict?: (e: { table: number; evicted: number; zeroEvicted: number; rows: number }) => void;
}

/** A run that would exceed its feature budget (--max-features or --max-memory). */
export class MemoryBudgetError extends Error {
  constructor(readonly features: number, readonly maxFeatures: number, readonly bytesPerFeature: number, readonly rows: number) {
    super(`the embedding table would hold ${features} features after ${rows} training rows, over the budget of ${maxFeatures} (about ${Math.round(bytesPerFeature)} bytes each: ${(features * bytesPerFeature / 2 ** 20).toFixed(1)} MiB needed, ${(maxFeatures * bytesPerFeature / 2 ** 20).toFixed(1)} MiB allowed); raise the budget, hash the features into fewer rows, or let rows be evicted (--evict)`);
    this.name = "MemoryBudgetError";
  }
}

/** The share of the budget an eviction goes down to (less the new rows that may come before the next check). */
export const EVICT_SHARE = 0.8;

/**
 * The rows an evicting table keeps when `ids` new ones may come before the
 * next check (negative: a budget too small for them; it needs at least
 * ids / EVICT_SHARE).
 */
export function evictionKeep(max: number, ids: number): number {
  return Math.floor(EVICT_SHARE * max) - ids;
}

/** Keeps every table within control.maxFeatures before a batch adds its new rows. */
export function enforceBudget(m: CtrModel, keys: BigUint64Array, rows: number, control: BudgetControl): void {
  const max = control.maxFeatures!, ids = keys.length;
  m.tables.forEach((t, k) => {
    if (t.size + ids <= max) return;
    if (control.onFull === "evict") {
      const keep = evictionKeep(max, ids);
      if (keep < 0) throw new RangeError(`the feature budget ${max} (--max-features or --max-memory) is too small: one batch alone brings up to ${ids} features; allow at least ${Math.ceil(ids / EVICT_SHARE)}`);
      const e = t.evictTo(keep);
      control.onEvict?.({ table: k, ...e, rows });
      return;
    }
    // Near the budget: count the batch's new features exactly.
    const fresh = new Set<bigint>();
    for (const key of keys) if (!t.has(key)) fresh.add(key);
    if (t.size + fresh.size > max) throw new MemoryBudgetError(t.size + fresh.size, max, bytesPerFeature(t), rows);
  });
}
