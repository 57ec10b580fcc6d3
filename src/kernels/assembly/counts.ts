// Entry point of the admission counts' kernel module (dist/counts.wasm): the
// count and the lookup of a piece of keys in the shared counts of
// src/train/shared-counts.ts (countKeys), instantiated over the counts' own
// shared memory (one instance per thread), and in the plain counts of one
// thread (countPlain: src/train/admission.ts, its slots in a memory of their
// own). It holds no static data, so an instance writes nothing into that
// memory when it starts.
//
// The memory's layout, the slot protocol and the hash are shared-counts.ts'
// (its module comment): a header of u32 words at 0 (capacity at word 1, the
// slot region's offset at word 2), then each thread's
// piece (PIECE_* below, the same constants there), then the slots of
// (lo, hi, count, state) u32 quadruples. A key is inserted by claiming an
// empty slot (compare-and-swap of its state word, EMPTY -> CLAIMED),
// writing lo, hi and its first count 1, then publishing it (READY, waking a
// JavaScript thread that sleeps on it: WAITED). A slot another thread is
// filling is waited for by spinning: a claim lasts three stores. Counts are
// incremented with an atomic add, and saturate at 2^32 - 1 (a compare-and-
// swap loop from 2^31 on), as shared-counts.ts' increment does.

import { fmix32 } from "./hash";

const EMPTY: u32 = 0;
const CLAIMED: u32 = 1;
const WAITED: u32 = 2;
const READY: u32 = 3;
const SATURATED: u32 = 0xffffffff;
const FAST: u32 = 0x80000000;
const SLOT: usize = 16;
// A plain count's slot: lo, hi, count.
const PLAIN_SLOT: usize = 12;

// A piece: PIECE_KEYS keys as (lo, hi) words, their counts (u32), their
// home slots (u32), then the call's results: keys inserted, keys admitted.
const PIECE_KEYS: usize = 4096;
const P_COUNTS: usize = PIECE_KEYS * 8;
const P_HOMES: usize = P_COUNTS + PIECE_KEYS * 4;
const P_RESULT: usize = P_HOMES + PIECE_KEYS * 4;
// Keys whose home slots are loaded ahead together (their misses overlap).
const BLOCK: i32 = 32;

/**
 * Counts (count != 0) or looks up the n <= PIECE_KEYS keys of the piece at
 * `piece`, in order: writes each key's count after its occurrence (counting)
 * or its count (0 when absent; a lookup inserts nothing) to the piece's
 * counts, and the keys this call inserted and admitted (an increment made
 * their count admitAt, the minCount: 0 for one no count reaches) to its
 * results. The caller has reserved room for n new keys.
 */
export function countKeys(piece: usize, n: i32, count: i32, admitAt: u32): void {
  const mask = load<u32>(4) - 1;
  const base = <usize>load<u32>(8);
  const counts = piece + P_COUNTS, homes = piece + P_HOMES;
  let inserted: u32 = 0, admitted: u32 = 0, sink: u32 = 0;
  for (let b = 0; b < n; b += BLOCK) {
    const e = min<i32>(n, b + BLOCK);
    for (let j = b; j < e; j++) {
      const k = piece + <usize>j * 8;
      const h = fmix32(load<u32>(k) ^ fmix32(load<u32>(k, 4))) & mask;
      store<u32>(homes + <usize>j * 4, h);
      sink ^= load<u32>(base + <usize>h * SLOT, 12);
    }
    for (let j = b; j < e; j++) {
      const k = piece + <usize>j * 8;
      const lo = load<u32>(k), hi = load<u32>(k, 4);
      let i = load<u32>(homes + <usize>j * 4);
      let c: u32 = 0;
      while (true) {
        const s = base + <usize>i * SLOT;
        let st = atomic.load<u32>(s, 12);
        if (st == EMPTY) {
          if (count == 0) break;
          st = atomic.cmpxchg<u32>(s + 12, EMPTY, CLAIMED);
          if (st == EMPTY) {
            store<u32>(s, lo);
            store<u32>(s, hi, 4);
            store<u32>(s, 1, 8);
            // Publishing orders the stores above before any thread's read of READY.
            if (atomic.xchg<u32>(s + 12, READY) == WAITED) atomic.notify(s + 12);
            inserted++;
            c = 1;
            break;
          }
        }
        while (st != READY) st = atomic.load<u32>(s, 12);
        if (load<u32>(s) == lo && load<u32>(s, 4) == hi) {
          c = load<u32>(s, 8);
          if (count == 0) break;
          if (c < FAST) {
            c = atomic.add<u32>(s + 8, 1) + 1;
            if (c == admitAt) admitted++;
            break;
          }
          while (c != SATURATED) {
            const p = atomic.cmpxchg<u32>(s + 8, c, c + 1);
            if (p == c) {
              if (++c == admitAt) admitted++;
              break;
            }
            c = p;
          }
          break;
        }
        i = (i + 1) & mask;
      }
      store<u32>(counts + <usize>j * 4, c);
    }
  }
  store<u32>(piece + P_RESULT, inserted);
  store<u32>(piece + P_RESULT, admitted, 4);
  store<u32>(piece + P_RESULT, sink, 8);
}

/** Keys a piece holds (a call counts at most this many). */
export function pieceKeys(): i32 {
  return <i32>PIECE_KEYS;
}

/** Offset in a piece of its keys' counts (u32 each). */
export function pieceCounts(): i32 {
  return <i32>P_COUNTS;
}

/** Offset in a piece of a call's results: keys inserted, keys admitted (u32 each). */
export function pieceResult(): i32 {
  return <i32>P_RESULT;
}

/** Bytes of a piece (a multiple of 16: the slots after the pieces stay aligned). */
export function pieceBytes(): i32 {
  return <i32>(P_RESULT + 16);
}

/**
 * countKeys for the plain counts of one thread (src/train/admission.ts):
 * `cap` slots (a power of two) of (lo, hi, count) u32 triples at `slots`, a
 * count of 0 marking an empty slot, read and written by this thread only
 * (no atomics). A new key's first count is 1, a count saturates at
 * 2^32 - 1, as Admission's increment; the piece and its results as
 * countKeys'. The caller has made room for n new keys.
 */
export function countPlain(slots: usize, cap: u32, piece: usize, n: i32, count: i32, admitAt: u32): void {
  const mask = cap - 1;
  const counts = piece + P_COUNTS, homes = piece + P_HOMES;
  let inserted: u32 = 0, admitted: u32 = 0, sink: u32 = 0;
  for (let b = 0; b < n; b += BLOCK) {
    const e = min<i32>(n, b + BLOCK);
    for (let j = b; j < e; j++) {
      const k = piece + <usize>j * 8;
      const h = fmix32(load<u32>(k) ^ fmix32(load<u32>(k, 4))) & mask;
      store<u32>(homes + <usize>j * 4, h);
      sink ^= load<u32>(slots + <usize>h * PLAIN_SLOT, 8);
    }
    for (let j = b; j < e; j++) {
      const k = piece + <usize>j * 8;
      const lo = load<u32>(k), hi = load<u32>(k, 4);
      let i = load<u32>(homes + <usize>j * 4);
      let c: u32 = 0;
      while (true) {
        const s = slots + <usize>i * PLAIN_SLOT;
        c = load<u32>(s, 8);
        if (c == 0) {
          if (count != 0) {
            store<u32>(s, lo);
            store<u32>(s, hi, 4);
            store<u32>(s, 1, 8);
            inserted++;
            c = 1;
          }
          break;
        }
        if (load<u32>(s) == lo && load<u32>(s, 4) == hi) {
          if (count != 0 && c != SATURATED) {
            store<u32>(s, ++c, 8);
            if (c == admitAt) admitted++;
          }
          break;
        }
        i = (i + 1) & mask;
      }
      store<u32>(counts + <usize>j * 4, c);
    }
  }
  store<u32>(piece + P_RESULT, inserted);
  store<u32>(piece + P_RESULT, admitted, 4);
  store<u32>(piece + P_RESULT, sink, 8);
}
