// Moving a batch between batch order and shard order, for a table split over
// several memories (optim/sharded.ts): which shard each id goes to, its keys
// grouped by shard, and rows gathered or scattered through a slot per batch
// position. src/kernels/ts/shard.ts is the twin.

import { fmix32 } from "./hash";


/** The shard of key (lo, hi) among shards: the same mix as ShardedTable.shardOf. */
@inline function shardOf(lo: u32, hi: u32, shards: u32): u32 {
  return fmix32(lo ^ (hi * 0x9e3779b1)) % shards;
}

/**
 * Splits n u64 ids over `shards` shards: counts (u32 per shard) and, per
 * shard in turn, its ids in batch order written to keys (n u64); slot[i]
 * (n u32) is where id i went. Returns nothing; counts tells the blocks.
 */
export function partitionKeys(ids: usize, n: i32, shards: i32, slot: usize, counts: usize, keys: usize): void {
  const S = <u32>shards;
  memory.fill(counts, 0, <usize>S * 4);
  for (let i = 0; i < n; i++) {
    const p = ids + <usize>i * 8;
    const s = shardOf(load<u32>(p), load<u32>(p + 4), S);
    store<u32>(slot + <usize>i * 4, s);
    const c = counts + <usize>s * 4;
    store<u32>(c, load<u32>(c) + 1);
  }
  // Block starts (exclusive prefix sums), kept in the counts' place while placing.
  let start: u32 = 0;
  for (let s: u32 = 0; s < S; s++) {
    const c = counts + <usize>s * 4, k = load<u32>(c);
    store<u32>(c, start);
    start += k;
  }
  for (let i = 0; i < n; i++) {
    const o = slot + <usize>i * 4, c = counts + <usize>load<u32>(o) * 4, j = load<u32>(c);
    store<u32>(c, j + 1);
    store<u32>(o, j);
    store<u64>(keys + <usize>j * 8, load<u64>(ids + <usize>i * 8));
  }
  // Block ends back to counts.
  let prev: u32 = 0;
  for (let s: u32 = 0; s < S; s++) {
    const c = counts + <usize>s * 4, end = load<u32>(c);
    store<u32>(c, end - prev);
    prev = end;
  }
}

// Copies one row of d words.
@inline function copyWords(dst: usize, src: usize, d: i32): void {
  let c = 0;
  for (; c + 4 <= d; c += 4) v128.store(dst + <usize>c * 4, v128.load(src + <usize>c * 4));
  for (; c < d; c++) store<u32>(dst + <usize>c * 4, load<u32>(src + <usize>c * 4));
}

/** out row i = src row slot[i], for n rows of d 32-bit words. */
export function gatherSlots(src: usize, slot: usize, n: i32, d: i32, out: usize): void {
  const rb = <usize>d * 4;
  for (let i = 0; i < n; i++) copyWords(out + <usize>i * rb, src + <usize>load<u32>(slot + <usize>i * 4) * rb, d);
}

/** out row slot[i] = src row i, for n rows of d 32-bit words. */
export function scatterSlots(src: usize, slot: usize, n: i32, d: i32, out: usize): void {
  const rb = <usize>d * 4;
  for (let i = 0; i < n; i++) copyWords(out + <usize>load<u32>(slot + <usize>i * 4) * rb, src + <usize>i * rb, d);
}
