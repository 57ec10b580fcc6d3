// Scalar TypeScript twin of src/kernels/assembly/rows.ts, built from the
// reference moment rules and the shared proximal step in src/math.
import {
  P_RULE, P_GROUP, P_D, P_NORM, P_ROWSTEP, P_T, P_SLOTOFF, P_BIAS, P_ALPHA, P_B1, P_OMB1,
  P_B2, P_OMB2, P_EPS, P_MOM, P_L1, P_L2X2, P_L2, P_THR, P_AGINIT, P_BIASCAP,
  H_TAU, H_ALPHA, H_COUNT, H_FLAGS, HEADER_BYTES,
} from "../layout.js";
import type { Heap } from "../heap.js";
import { RULES } from "../../math/rules/index.js";
import type { MomentRule, Moments, RowContext } from "../../math/rules/index.js";
import { normTerm, proxWeight, shrinkFactor, softThreshold } from "../../math/prox.js";

const f = Math.fround;

interface Call {
  rule: MomentRule;
  group: boolean;
  norm: number;
  rowStep: number;
  t: number;
  slotOff: number;
  bias: number;
  biasCap: number;
  l1: number;
  l2x2: number;
  l2: number;
  thr: number;
  d: number;
  ctx: RowContext;
}

function readCall(heap: Heap, pp: number): Call {
  const i = heap.i32, w = heap.f32, b = pp >>> 2;
  return {
    rule: RULES[i[b + P_RULE]],
    group: i[b + P_GROUP] !== 0,
    norm: i[b + P_NORM],
    rowStep: i[b + P_ROWSTEP],
    t: heap.u32[b + P_T],
    slotOff: i[b + P_SLOTOFF],
    bias: heap.u32[b + P_BIAS],
    biasCap: heap.u32[b + P_BIASCAP],
    l1: w[b + P_L1],
    l2x2: w[b + P_L2X2],
    l2: w[b + P_L2],
    thr: w[b + P_THR],
    d: i[b + P_D],
    ctx: {
      first: false, c1: 0, c2: 0, c2p: 0, alpha: w[b + P_ALPHA], alphaP: 0, sqT: 0, sqTp: 0,
      b1: w[b + P_B1], omb1: w[b + P_OMB1], b2: w[b + P_B2], omb2: w[b + P_OMB2],
      eps: w[b + P_EPS], mom: w[b + P_MOM], agInit: w[b + P_AGINIT],
    },
  };
}

const sBuf = new Float32Array(1024);
const denBuf = new Float32Array(1024);
const acc = new Float32Array(4);
const mo: Moments = { mt: 0, P: 0, Pp: 0 };

/** x, header, gradient and Hessian rows are byte addresses; returns the live-row change. */
function updateRow(heap: Heap, c: Call, xp: number, hdr: number, gp: number, hp: number): number {
  const u32 = heap.u32, w = heap.f32, hb = hdr >>> 2;
  const tauPrev = u32[hb + H_TAU / 4];
  const count = u32[hb + H_COUNT / 4];
  const tau = c.rowStep === 0 ? c.t : count + 1;
  const ctx = c.ctx;
  ctx.first = tauPrev === 0;
  // Steps past the table read its last entry (exactly 1.0 by then: see StepCall).
  const ti = Math.min(tau, c.biasCap - 1), tpi = Math.min(tauPrev, c.biasCap - 1);
  ctx.c1 = w[(c.bias >>> 2) + ti * 2];
  ctx.c2 = w[(c.bias >>> 2) + ti * 2 + 1];
  ctx.c2p = w[(c.bias >>> 2) + tpi * 2 + 1];
  ctx.alphaP = w[hb + H_ALPHA / 4];
  ctx.sqT = f(Math.sqrt(tau));
  ctx.sqTp = f(Math.sqrt(tauPrev));
  const d = c.d, x = xp >>> 2, g = gp >>> 2, h = hp >>> 2;
  const sp = (hdr + c.slotOff) >>> 2;
  let nonzero = false;
  if (c.group) {
    acc.fill(0);
    for (let i = 0; i < d; i++) {
      c.rule.group(ctx, w, sp + d + i, d, w[g + i], w[h + i], mo);
      const z = f(f(w[sp + i] + mo.mt) - f(f(mo.P - mo.Pp) * w[x + i]));
      w[sp + i] = z;
      const s = softThreshold(z, c.l1);
      sBuf[i] = s;
      denBuf[i] = f(mo.P + c.l2x2);
      const n = normTerm(s, mo.P, c.l2, c.norm);
      acc[i & 3] = f(acc[i & 3] + f(n * n));
    }
    const k = shrinkFactor(f(f(acc[0] + acc[1]) + f(acc[2] + acc[3])), c.thr);
    for (let i = 0; i < d; i++) {
      const v = proxWeight(sBuf[i], k, denBuf[i]);
      w[x + i] = v;
      if (v !== 0) nonzero = true;
    }
  } else {
    for (let i = 0; i < d; i++) {
      const v = c.rule.plain(ctx, w, sp + i, d, w[x + i], w[g + i], w[h + i]);
      w[x + i] = v;
      if (v !== 0) nonzero = true;
    }
  }
  const wasZero = (u32[hb + H_FLAGS / 4] & 1) !== 0;
  u32[hb + H_TAU / 4] = tau;
  w[hb + H_ALPHA / 4] = ctx.alpha;
  u32[hb + H_COUNT / 4] = count + 1;
  u32[hb + H_FLAGS / 4] = nonzero ? 0 : 1;
  return wasZero && nonzero ? 1 : !wasZero && !nonzero ? -1 : 0;
}

export function updateDense(heap: Heap, pp: number, xBase: number, sBase: number, sStride: number, g: number, h: number, rows: number): number {
  const c = readCall(heap, pp);
  const rb = c.d * 4;
  let delta = 0;
  for (let r = 0; r < rows; r++) delta += updateRow(heap, c, xBase + r * rb, sBase + r * sStride, g + r * rb, h + r * rb);
  return delta;
}

export function updateSparse(heap: Heap, pp: number, recs: number, n: number, g: number, h: number): number {
  const c = readCall(heap, pp);
  const rb = c.d * 4;
  let delta = 0;
  for (let i = 0; i < n; i++) {
    const rec = heap.u32[(recs >>> 2) + i];
    delta += updateRow(heap, c, rec + HEADER_BYTES, rec, g + i * rb, h + i * rb);
  }
  return delta;
}

const slotBuf = new Float32Array(16);

/**
 * Sets the weights of a group-form record (header at rec) from its stored z
 * and moments by Algorithm 1's closed form, with P_t recomputed exactly as
 * the row's next update recomputes P_{t-1}: the rule's P of the stored
 * moments at the row's last step and learning rate. For records whose state
 * was changed outside the kernels (a merge of several trainers' changes,
 * ../../cluster). A row never updated keeps its weights. For the n records
 * whose addresses are the u32 array at recs: sets each zero flag and
 * returns how many rows are now zero.
 */
export function settleRecords(heap: Heap, pp: number, recs: number, n: number): number {
  const c = readCall(heap, pp);
  let zeros = 0;
  for (let i = 0; i < n; i++) zeros += settleRecord(heap, c, heap.u32[(recs >>> 2) + i]);
  return zeros;
}

function settleRecord(heap: Heap, c: Call, rec: number): number {
  const u32 = heap.u32, w = heap.f32, hb = rec >>> 2;
  const tau = u32[hb + H_TAU / 4], d = c.d, x = (rec + HEADER_BYTES) >>> 2, sp = (rec + c.slotOff) >>> 2;
  if (!c.group || tau === 0) {
    let zero = 1;
    for (let i = 0; i < d; i++) if (w[x + i] !== 0) { zero = 0; break; }
    u32[hb + H_FLAGS / 4] = (u32[hb + H_FLAGS / 4] & ~1) | zero;
    return zero;
  }
  const ctx = c.ctx, ti = Math.min(tau, c.biasCap - 1), slots = c.rule.slots.length;
  ctx.first = false;
  ctx.c1 = w[(c.bias >>> 2) + ti * 2];
  ctx.c2 = w[(c.bias >>> 2) + ti * 2 + 1];
  ctx.c2p = ctx.c2;
  ctx.alphaP = w[hb + H_ALPHA / 4];
  ctx.sqT = ctx.sqTp = f(Math.sqrt(tau));
  acc.fill(0);
  for (let i = 0; i < d; i++) {
    // The rule runs on a copy of the coordinate's moments: only its P_{t-1} is kept.
    for (let k = 0; k < slots; k++) slotBuf[k] = w[sp + d + k * d + i];
    c.rule.group(ctx, slotBuf, 0, 1, 0, 0, mo);
    const s = softThreshold(w[sp + i], c.l1);
    sBuf[i] = s;
    denBuf[i] = f(mo.Pp + c.l2x2);
    const n = normTerm(s, mo.Pp, c.l2, c.norm);
    acc[i & 3] = f(acc[i & 3] + f(n * n));
  }
  const k = shrinkFactor(f(f(acc[0] + acc[1]) + f(acc[2] + acc[3])), c.thr);
  let zero = 1;
  for (let i = 0; i < d; i++) {
    const v = proxWeight(sBuf[i], k, denBuf[i]);
    w[x + i] = v;
    if (v !== 0) zero = 0;
  }
  u32[hb + H_FLAGS / 4] = (u32[hb + H_FLAGS / 4] & ~1) | zero;
  return zero;
}
