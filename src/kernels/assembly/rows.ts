// Fused row update for every rule, in WebAssembly SIMD (4 float32 lanes):
// the row loop (step counts, bias correction, the group norm and scale of
// Algorithm 1, padded tails, live-row counts) around the rules' chunk math
// of rule-chunks.ts.
//
// A row's state record is [header | slots...]; each slot holds d floats. The
// group (Algorithm 1) form keeps z in slot 0 and the rule's moments after it;
// the plain form keeps only the moments. x lives either inside the record
// (sparse tables: x right after the header) or in a separate weight array
// (dense parameters). src/kernels/ts/rows.ts is the scalar twin of this file:
// every float32 operation happens in the same order, so both give the same
// bits. A row whose length is not a multiple of 4 has its last chunk copied to
// a padded scratch chunk, so the rule math is written once.

import {
  P_D, R_SGD, R_ADAM, R_ADAHESSIAN, H_TAU, H_ALPHA, H_COUNT, H_FLAGS, TMP_S, TMP_DEN, TMP_REC, TMP_SINK,
} from "./layout";
import {
  rule, group, thr, perRow, tGlobal, bias, biasCap, alpha, slotOff, nslots, ZERO, ONES, readParams, groupChunk, plainChunk,
} from "./rule-chunks";

export const TOUCH_BLOCK: i32 = 256;

// Where this instance's row scratch (TMP_S .. TMP_REC + 256) lies: 0 puts it
// at the fixed addresses below the heap; each thread that updates rows of a
// shared memory moves its own elsewhere (setScratchBase).
let tmpBase: usize = 0;
// Header flag bits a row update keeps set (concurrent.ts holds the row lock bit while it updates).
let flagKeep: u32 = 0;

/** Moves this instance's row scratch to [p, p + TMP_SINK - TMP_S) (a thread's own, on a shared memory). */
export function setScratchBase(p: usize): void {
  tmpBase = p - TMP_S;
}

/** Sets the header flag bits that row updates keep (0, or the row lock while concurrent.ts updates). */
export function setFlagKeep(bits: u32): void {
  flagKeep = bits;
}

/**
 * Loads one word of every cache line of n records (u32 addresses at recs) of
 * recBytes each and returns them xor-ed (a value for a sink, so the loads
 * stay). Records up to 196 bytes (every sparse record of a row of up to 11
 * floats with Adam's state) take four straight loads, whose lines may repeat.
 */
export function touchRecords(recs: usize, n: i32, recBytes: usize): u32 {
  const last = recBytes - 4;
  let sink: u32 = 0;
  if (last < 192) {
    const a = min<usize>(64, last), b = min<usize>(128, last);
    for (let i = 0; i < n; i++) {
      const rec = <usize>load<u32>(recs + <usize>i * 4);
      sink ^= load<u32>(rec) ^ load<u32>(rec + a) ^ load<u32>(rec + b) ^ load<u32>(rec + last);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const rec = <usize>load<u32>(recs + <usize>i * 4);
      for (let o: usize = 0; o < last; o += 64) sink ^= load<u32>(rec + o);
      sink ^= load<u32>(rec + last);
    }
  }
  return sink;
}

// Copies `lanes` (1..3) floats of each of `count` slots (stride ss) into the
// padded scratch chunk (stride 16), zero filling the rest, or back when
// `back`. Float by float: memory.copy is a call into the runtime, which cost
// more than the update itself for rows of one float (a cross layer's or an
// output layer's weights, logistic regression).
@inline function moveTail(src: usize, ss: usize, count: i32, lanes: i32, dst: usize, back: bool): void {
  for (let k = 0; k < count; k++) {
    const a = src + <usize>k * ss;
    const b = dst + <usize>k * 16;
    if (back) {
      for (let l = 0; l < lanes; l++) store<u32>(a + (<usize>l << 2), load<u32>(b + (<usize>l << 2)));
    } else {
      v128.store(b, ZERO);
      for (let l = 0; l < lanes; l++) store<u32>(b + (<usize>l << 2), load<u32>(a + (<usize>l << 2)));
    }
  }
}

// A row's last `tail` (1..3) floats of x, g, h and every slot (stride ss)
// into the padded scratch chunk at TMP_REC (x, g, h, slots; 16 bytes each).
@inline function tailIn(xp: usize, gp: usize, hp: usize, sp: usize, ss: usize, tail: i32): void {
  moveTail(xp, 0, 1, tail, tmpBase + TMP_REC, false);
  moveTail(gp, 0, 1, tail, tmpBase + TMP_REC + 16, false);
  if (rule == R_ADAHESSIAN) moveTail(hp, 0, 1, tail, tmpBase + TMP_REC + 32, false);
  moveTail(sp, ss, nslots, tail, tmpBase + TMP_REC + 48, false);
}

// The step a row's update makes, from its header.
@inline function rowTau(hdr: usize): u32 {
  return perRow ? load<u32>(hdr + H_COUNT) + 1 : tGlobal;
}

// A bias-correction factor of step t (off 0: c1, 4: c2) from the table, in every lane.
@inline function biasAt(t: u32, off: usize): v128 {
  const ti = t < biasCap ? t : biasCap - 1;
  return f32x4.splat(load<f32>(bias + <usize>ti * 8 + off));
}

// Group form, first pass over a row: moments, z, s (to so) and P + 2 l2 (to
// dn) for every chunk; returns the lanes' squared norm terms.
@inline function groupPass(xp: usize, hdr: usize, gp: usize, hp: usize, d: i32, so: usize, dn: usize): v128 {
  const tauPrev = load<u32>(hdr + H_TAU);
  const tau = rowTau(hdr);
  const first = tauPrev == 0;
  const aP = f32x4.splat(load<f32>(hdr + H_ALPHA));
  let c1 = ZERO, c2 = ZERO, c2p = ZERO, sqT = ZERO, sqTp = ZERO;
  if (rule >= R_ADAM) {
    c1 = biasAt(tau, 0);
    c2 = biasAt(tau, 4);
    c2p = biasAt(tauPrev, 4);
  } else if (rule == R_SGD) {
    sqT = f32x4.splat(<f32>Math.sqrt(<f64>tau));
    sqTp = f32x4.splat(<f32>Math.sqrt(<f64>tauPrev));
  }
  const ss = <usize>d * 4;
  const sp = hdr + slotOff;
  const full = d & ~3;
  const tail = d - full;
  let acc = ZERO;
  for (let i = 0; i < full; i += 4) {
    const o = <usize>i * 4;
    acc = f32x4.add(acc, groupChunk(xp + o, gp + o, hp + o, sp + o, ss, so + o, dn + o, first, c1, c2, c2p, aP, sqT, sqTp));
  }
  if (tail) {
    const o = <usize>full * 4;
    // The padded chunk is copied in and back here, so rows in flight together share it.
    tailIn(xp + o, gp + o, hp + o, sp + o, ss, tail);
    acc = f32x4.add(acc, groupChunk(tmpBase + TMP_REC, tmpBase + TMP_REC + 16, tmpBase + TMP_REC + 32, tmpBase + TMP_REC + 48, 16, so + o, dn + o, first, c1, c2, c2p, aP, sqT, sqTp));
    moveTail(sp + o, ss, nslots, tail, tmpBase + TMP_REC + 48, true);
  }
  return acc;
}

// The group shrink factor k of a row from its squared norm terms.
@inline function groupScale(acc: v128): f32 {
  const sum = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) +
    (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  let k: f32 = 1;
  if (thr > 0) {
    const nrm = Mathf.sqrt(sum);
    k = nrm <= thr ? 0 : <f32>1 - thr / nrm;
  }
  return k;
}

// Group form, second pass: x = s k / (P + 2 l2), then the header.
@inline function groupStore(xp: usize, hdr: usize, d: i32, k: f32, so: usize, dn: usize): i32 {
  const full = d & ~3;
  // k = 0 writes +0.0 everywhere (s * 0 would leave -0.0 where s < 0).
  const vk = f32x4.splat(k);
  const live = k != 0 ? ONES : ZERO;
  let any = ZERO;
  for (let i = 0; i < full; i += 4) {
    const o = <usize>i * 4;
    const x2 = v128.and(f32x4.div(f32x4.mul(v128.load(so + o), vk), v128.load(dn + o)), live);
    v128.store(xp + o, x2);
    any = v128.or(any, f32x4.ne(x2, ZERO));
  }
  let nonzero = v128.any_true(any);
  for (let i = full; i < d; i++) {
    const o = <usize>i * 4;
    const x2: f32 = k != 0 ? (load<f32>(so + o) * k) / load<f32>(dn + o) : 0;
    store<f32>(xp + o, x2);
    if (x2 != 0) nonzero = true;
  }
  return finishRow(hdr, nonzero);
}

// Writes a row's header after its update; returns +1 if it came back to
// life, -1 if it became zero, else 0.
@inline function finishRow(hdr: usize, nonzero: bool): i32 {
  const count = load<u32>(hdr + H_COUNT);
  const tau = rowTau(hdr);
  const wasZero = (load<u32>(hdr + H_FLAGS) & 1) != 0;
  store<u32>(hdr + H_TAU, tau);
  store<f32>(hdr + H_ALPHA, alpha);
  store<u32>(hdr + H_COUNT, count + 1);
  store<u32>(hdr + H_FLAGS, (nonzero ? 0 : 1) | flagKeep);
  return wasZero && nonzero ? 1 : !wasZero && !nonzero ? -1 : 0;
}

// Updates one row; returns +1 if it came back to life, -1 if it became zero, else 0.
@inline export function updateRow(xp: usize, hdr: usize, gp: usize, hp: usize, d: i32): i32 {
  if (group) return groupStore(xp, hdr, d, groupScale(groupPass(xp, hdr, gp, hp, d, tmpBase + TMP_S, tmpBase + TMP_DEN)), tmpBase + TMP_S, tmpBase + TMP_DEN);
  const tau = rowTau(hdr);
  const first = load<u32>(hdr + H_TAU) == 0;
  let c1 = ZERO, c2 = ZERO, sqT = ZERO;
  if (rule >= R_ADAM) {
    c1 = biasAt(tau, 0);
    c2 = biasAt(tau, 4);
  } else if (rule == R_SGD) {
    sqT = f32x4.splat(<f32>Math.sqrt(<f64>tau));
  }
  const ss = <usize>d * 4;
  const sp = hdr + slotOff;
  const full = d & ~3;
  const tail = d - full;
  for (let i = 0; i < full; i += 4) {
    const o = <usize>i * 4;
    plainChunk(xp + o, gp + o, hp + o, sp + o, ss, first, c1, c2, sqT);
  }
  if (tail) {
    const o = <usize>full * 4;
    tailIn(xp + o, gp + o, hp + o, sp + o, ss, tail);
    plainChunk(tmpBase + TMP_REC, tmpBase + TMP_REC + 16, tmpBase + TMP_REC + 32, tmpBase + TMP_REC + 48, 16, first, c1, c2, sqT);
    moveTail(sp + o, ss, nslots, tail, tmpBase + TMP_REC + 48, true);
    moveTail(xp + o, 0, 1, tail, tmpBase + TMP_REC, true);
  }
  let any = ZERO;
  for (let i = 0; i < full; i += 4) any = v128.or(any, f32x4.ne(v128.load(xp + <usize>i * 4), ZERO));
  let nonzero = v128.any_true(any);
  for (let i = full; i < d; i++) if (load<f32>(xp + <usize>i * 4) != 0) nonzero = true;
  return finishRow(hdr, nonzero);
}

// Second rows' scratch of the pair path: rows of up to PAIR_MAX_D floats.
const TMP_S2: usize = TMP_S + 2048;
const TMP_DEN2: usize = TMP_DEN + 2048;
const PAIR_MAX_D: i32 = 512;

// Whether rows of d floats go through updatePair: the group form's.
@inline export function pairs(d: i32): bool {
  return group != 0 && d <= PAIR_MAX_D;
}

// Two distinct rows' group updates, each pass of one written after the
// other's: a row is one chain of dependent divisions and square roots, and
// two independent chains overlap in the processor. The same operations on each row as updateRow.
@inline export function updatePair(
  xa: usize, ha: usize, ga: usize, qa: usize, xb: usize, hb: usize, gb: usize, qb: usize, d: i32,
): i32 {
  const accA = groupPass(xa, ha, ga, qa, d, tmpBase + TMP_S, tmpBase + TMP_DEN);
  const accB = groupPass(xb, hb, gb, qb, d, tmpBase + TMP_S2, tmpBase + TMP_DEN2);
  const kA = groupScale(accA), kB = groupScale(accB);
  return groupStore(xa, ha, d, kA, tmpBase + TMP_S, tmpBase + TMP_DEN) + groupStore(xb, hb, d, kB, tmpBase + TMP_S2, tmpBase + TMP_DEN2);
}

/**
 * Dense parameter: rows 0..rows-1, x at xBase (stride d floats), state records at
 * sBase (stride sStride bytes), gradient (and Hessian diagonal) rows of d floats.
 * Returns the change in the number of zero rows (negated live-row change).
 */
export function updateDense(pp: usize, xBase: usize, sBase: usize, sStride: usize, gBase: usize, hBase: usize, rows: i32): i32 {
  readParams(pp);
  const d = load<i32>(pp + 4 * P_D);
  const rb = <usize>d * 4;
  let delta = 0;
  let r = 0;
  if (pairs(d)) {
    for (; r + 1 < rows; r += 2) {
      const u = <usize>r, v = u + 1;
      delta += updatePair(
        xBase + u * rb, sBase + u * sStride, gBase + u * rb, hBase + u * rb,
        xBase + v * rb, sBase + v * sStride, gBase + v * rb, hBase + v * rb, d,
      );
    }
  }
  for (; r < rows; r++) {
    const u = <usize>r;
    delta += updateRow(xBase + u * rb, sBase + u * sStride, gBase + u * rb, hBase + u * rb, d);
  }
  return delta;
}

/**
 * Sparse rows: recs is a u32 list of n distinct fused-record addresses
 * ([header | x | slots]); gradient row i belongs to recs[i]. Returns the
 * change in live rows.
 */
export function updateSparse(pp: usize, recs: usize, n: i32, gBase: usize, hBase: usize): i32 {
  readParams(pp);
  const d = load<i32>(pp + 4 * P_D);
  const rb = <usize>d * 4;
  const recBytes = slotOff + <usize>nslots * rb;
  let delta = 0;
  let sink: u32 = 0;
  // The rows of a batch are distinct (deduplicated), so they may go in pairs.
  const paired = pairs(d);
  // Rows come in blocks: every cache line of a block's records is loaded
  // first, in a loop of independent loads whose misses overlap, then the
  // block is updated from cache. (Scattered records of a large table miss
  // all the way to memory; loaded by the update itself, each miss stalls
  // it. Loaded all at once before the update, the first ones are out of L2
  // again by the time they are updated.)
  for (let b = 0; b < n; b += TOUCH_BLOCK) {
    const e = min<i32>(n, b + TOUCH_BLOCK);
    sink ^= touchRecords(recs + <usize>b * 4, e - b, recBytes);
    let i = b;
    if (paired) {
      for (; i + 1 < e; i += 2) {
        const ra = <usize>load<u32>(recs + <usize>i * 4), rb2 = <usize>load<u32>(recs + <usize>i * 4, 4);
        const u = <usize>i, v = u + 1;
        delta += updatePair(ra + 16, ra, gBase + u * rb, hBase + u * rb, rb2 + 16, rb2, gBase + v * rb, hBase + v * rb, d);
      }
    }
    for (; i < e; i++) {
      const rec = <usize>load<u32>(recs + <usize>i * 4);
      const u = <usize>i;
      delta += updateRow(rec + 16, rec, gBase + u * rb, hBase + u * rb, d);
    }
  }
  store<u32>(TMP_SINK, sink);
  return delta;
}
