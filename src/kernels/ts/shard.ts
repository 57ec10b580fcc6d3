import type { Heap } from "../heap.js";
import { fmix32 } from "../../util/fmix32.js";

/** Twin of the WebAssembly partitionKeys: each id's shard, ids grouped by shard in batch order, slot[i] where id i went, counts per shard. */
export function partitionKeys(heap: Heap, ids: number, n: number, shards: number, slot: number, counts: number, keys: number): void {
  const u = heap.u32, o = ids >>> 2, sl = slot >>> 2, c = counts >>> 2, k = keys >>> 2;
  const of = new Uint32Array(n), start = new Uint32Array(shards);
  for (let i = 0; i < n; i++) of[i] = fmix32((u[o + 2 * i] ^ Math.imul(u[o + 2 * i + 1], 0x9e3779b1)) >>> 0) % shards;
  const count = new Uint32Array(shards);
  for (let i = 0; i < n; i++) count[of[i]]++;
  for (let s = 1; s < shards; s++) start[s] = start[s - 1] + count[s - 1];
  for (let i = 0; i < n; i++) {
    const j = start[of[i]]++;
    u[sl + i] = j;
    u[k + 2 * j] = u[o + 2 * i];
    u[k + 2 * j + 1] = u[o + 2 * i + 1];
  }
  for (let s = 0; s < shards; s++) u[c + s] = count[s];
}

/** Twin of gatherSlots: out row i = src row slot[i] (d words). */
export function gatherSlots(heap: Heap, src: number, slot: number, n: number, d: number, out: number): void {
  const u = heap.u32;
  for (let i = 0; i < n; i++) u.copyWithin((out >>> 2) + i * d, (src >>> 2) + u[(slot >>> 2) + i] * d, (src >>> 2) + (u[(slot >>> 2) + i] + 1) * d);
}

/** Twin of scatterSlots: out row slot[i] = src row i (d words). */
export function scatterSlots(heap: Heap, src: number, slot: number, n: number, d: number, out: number): void {
  const u = heap.u32;
  for (let i = 0; i < n; i++) u.copyWithin((out >>> 2) + u[(slot >>> 2) + i] * d, (src >>> 2) + i * d, (src >>> 2) + (i + 1) * d);
}
