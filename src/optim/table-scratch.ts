/**
 * The working memory of a sparse table's steps, in its arena: the batch's
 * ids, record addresses, gradients (and Hessian estimates), their sums per
 * distinct row, the dedup table and the inverse map; and the lookahead
 * thread's set, in the same layout, swapped with the batch's when used.
 * Grown to the next power of two of a batch's id count; never shrunk.
 */
import type { Arena } from "../kernels/arena.js";

export class StepScratch {
  /** Ids the buffers hold room for. */
  capacity = 0;
  ids = 0;
  recs = 0;
  grad = 0;
  hess = 0;
  urecs = 0;
  ugrad = 0;
  uhess = 0;
  tab = 0;
  inverse = 0;
  /** The lookahead's set (shared memory only). */
  la = { ids: 0, hashes: 0, inverse: 0, recs: 0, keys: 0, tab: 0, init: 0 };

  constructor(private readonly arena: Arena, private readonly d: number, private readonly hessian: boolean) {}

  /** Room for n ids: every buffer made anew (the old ones freed). */
  ensure(n: number): void {
    const heap = this.arena.heap, d = this.d, la = this.la;
    for (const p of [this.ids, this.recs, this.grad, this.hess, this.urecs, this.ugrad, this.uhess, this.tab, this.inverse, ...Object.values(la)]) if (p) heap.release(p);
    const cap = Math.max(64, 2 ** Math.ceil(Math.log2(n)));
    this.ids = heap.alloc(cap * 8);
    this.recs = heap.alloc(cap * 4);
    this.grad = heap.alloc(cap * d * 4);
    this.urecs = heap.alloc(cap * 8);
    this.inverse = heap.alloc(cap * 4);
    this.ugrad = heap.alloc(cap * d * 4);
    this.hess = this.hessian ? heap.alloc(cap * d * 4) : 0;
    this.uhess = this.hessian ? heap.alloc(cap * d * 4) : 0;
    // Dedup entries (u32) at load <= 0.5 even when every id of a batch is distinct.
    this.tab = heap.alloc(cap * 2 * 4);
    if (this.arena.backend === "wasm") {
      // The lookahead's set, in the layout of the batch lookup's above (the two are swapped).
      this.la = { ids: heap.alloc(cap * 8), hashes: heap.alloc(cap * 4), inverse: heap.alloc(cap * 4), recs: heap.alloc(cap * 8), keys: heap.alloc(cap * 8), tab: heap.alloc(cap * 2 * 4), init: heap.alloc(cap * d * 4) };
    }
    this.capacity = cap;
  }
}
