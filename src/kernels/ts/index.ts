import type { Heap } from "../heap.js";
import type { Kernels } from "../kernels.js";
import { updateDense, updateSparse } from "./rows.js";
import * as table from "./table.js";

/** The plain TypeScript kernels, bound to one heap: the reference the WebAssembly ones are tested against. */
export function tsKernels(heap: Heap): Kernels {
  return {
    updateDense: (pp, xb, sb, ss, g, h, rows) => updateDense(heap, pp, xb, sb, ss, g, h, rows),
    updateSparse: (pp, recs, n, g, h) => updateSparse(heap, pp, recs, n, g, h),
    resolve: (meta, ids, n, out) => table.resolve(heap, meta, ids, n, out),
    lookup: (meta, lo, hi) => table.lookup(heap, meta, lo, hi),
    rehash: (meta, nk, nv, cap) => table.rehash(heap, meta, nk, nv, cap),
    keysInRowOrder: (meta, out) => table.keysInRowOrder(heap, meta, out),
    accumulate: (recs, n, g, h, d, or, og, oh, tab, cap) => table.accumulate(heap, recs, n, g, h, d, or, og, oh, tab, cap),
    gather: (recs, n, d, out) => table.gather(heap, recs, n, d, out),
    findNonFinite: (p, n) => table.findNonFinite(heap, p, n),
  };
}
