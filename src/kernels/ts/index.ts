import type { Heap } from "../heap.js";
import type { Kernels } from "../kernels.js";
import { updateDense, updateSparse } from "./rows.js";
import * as table from "./table.js";
import * as shard from "./shard.js";
import { addScaled, scaleBy } from "./axpy.js";

/** The plain TypeScript kernels, bound to one heap: the reference the WebAssembly ones are tested against. */
export function tsKernels(heap: Heap): Kernels {
  return {
    updateDense: (pp, xb, sb, ss, g, h, rows) => updateDense(heap, pp, xb, sb, ss, g, h, rows),
    updateSparse: (pp, recs, n, g, h) => updateSparse(heap, pp, recs, n, g, h),
    resolve: (meta, ids, n, out) => table.resolve(heap, meta, ids, n, out),
    dedupResolve: (meta, ids, n, hs, inv, or, tab, g, h, d, og, oh) => table.dedupResolve(heap, meta, ids, n, hs, inv, or, tab, g, h, d, og, oh),
    dedupLookup: (meta, ids, n, hs, inv, or, keys, tab, init) => table.dedupLookup(heap, meta, ids, n, hs, inv, or, keys, tab, init),
    createMissing: (meta, hs, keys, recs, u, init) => table.createMissing(heap, meta, hs, keys, recs, u, init),
    accumulateInverse: (inv, n, g, h, d, og, oh) => table.accumulateInverse(heap, inv, n, g, h, d, og, oh),
    gatherInverse: (recs, inv, n, d, out) => table.gatherInverse(heap, recs, inv, n, d, out),
    lookup: (meta, lo, hi) => table.lookup(heap, meta, lo, hi),
    rehash: (meta, ns, cap) => table.rehash(heap, meta, ns, cap),
    keysInRowOrder: (meta, out) => table.keysInRowOrder(heap, meta, out),
    gather: (recs, n, d, out) => table.gather(heap, recs, n, d, out),
    gatherExisting: (meta, ids, n, out) => table.gatherExisting(heap, meta, ids, n, out),
    findNonFinite: (p, n) => table.findNonFinite(heap, p, n),
    addScaled: (dst, src, n, w) => addScaled(heap, dst, src, n, w),
    scaleBy: (dst, n, w) => scaleBy(heap, dst, n, w),
    partitionKeys: (ids, n, shards, slot, counts, keys) => shard.partitionKeys(heap, ids, n, shards, slot, counts, keys),
    gatherSlots: (src, slot, n, d, out) => shard.gatherSlots(heap, src, slot, n, d, out),
    scatterSlots: (src, slot, n, d, out) => shard.scatterSlots(heap, src, slot, n, d, out),
  };
}
