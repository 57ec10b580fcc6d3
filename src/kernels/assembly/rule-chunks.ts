// The six moment rules of src/math/rules over one 4-lane chunk of a row, in
// WebAssembly SIMD, and the per-call parameters they read. One branch per
// rule in each form, in the order of the rule files: sgd.ts (the plain
// gradient step, P = sqrt(t) / alpha), momentum.ts, adagrad.ts, adam.ts,
// amsgrad.ts (Adam with the running maximum of v) and adahessian.ts (Adam
// with the Hessian diagonal in v). groupChunk is Algorithm 1's first pass
// (the moments, z, s and P + 2 l2 of src/math/prox.ts), plainChunk the
// textbook update without regularisers. The branches test a per-call
// global, so each call runs one rule's straight-line code; the functions are
// inlined into the row loop of rows.ts (one module after compilation).

import {
  P_RULE, P_GROUP, P_NORM, P_ROWSTEP, P_T, P_SLOTOFF, P_BIAS, P_ALPHA,
  P_B1, P_OMB1, P_B2, P_OMB2, P_EPS, P_MOM, P_L1, P_L2X2, P_L2, P_THR, P_AGINIT, P_BIASCAP,
  R_SGD, R_MOMENTUM, R_ADAGRAD, R_ADAM, R_AMSGRAD, R_ADAHESSIAN,
} from "./layout";

// Per-call parameters, read once per call.
export let rule: i32 = 0;
export let group: i32 = 0;
export let normMode: i32 = 0;
export let vB1: v128 = f32x4.splat(0);
export let vOmb1: v128 = f32x4.splat(0);
export let vB2: v128 = f32x4.splat(0);
export let vOmb2: v128 = f32x4.splat(0);
export let vEps: v128 = f32x4.splat(0);
export let vMom: v128 = f32x4.splat(0);
export let vL1: v128 = f32x4.splat(0);
export let vL2x2: v128 = f32x4.splat(0);
export let vL2: v128 = f32x4.splat(0);
export let vAgInit: v128 = f32x4.splat(0);
export let thr: f32 = 0;
export let perRow = false;
export let tGlobal: u32 = 0;
export let bias: usize = 0;
export let biasCap: u32 = 0;
export let alpha: f32 = 0;
export let vAlpha: v128 = f32x4.splat(0);
export let slotOff: usize = 0;
export let nslots: i32 = 0;

export const ZERO: v128 = f32x4.splat(0);
export const HALF: v128 = f32x4.splat(0.5);
export const ONE: v128 = f32x4.splat(1);
export const SIGN: v128 = i32x4.splat(0x80000000);
export const ONES: v128 = i32x4.splat(-1);

export function readParams(pp: usize): void {
  rule = load<i32>(pp + 4 * P_RULE);
  group = load<i32>(pp + 4 * P_GROUP);
  normMode = load<i32>(pp + 4 * P_NORM);
  vB1 = f32x4.splat(load<f32>(pp + 4 * P_B1));
  vOmb1 = f32x4.splat(load<f32>(pp + 4 * P_OMB1));
  vB2 = f32x4.splat(load<f32>(pp + 4 * P_B2));
  vOmb2 = f32x4.splat(load<f32>(pp + 4 * P_OMB2));
  vEps = f32x4.splat(load<f32>(pp + 4 * P_EPS));
  vMom = f32x4.splat(load<f32>(pp + 4 * P_MOM));
  vL1 = f32x4.splat(load<f32>(pp + 4 * P_L1));
  vL2x2 = f32x4.splat(load<f32>(pp + 4 * P_L2X2));
  vL2 = f32x4.splat(load<f32>(pp + 4 * P_L2));
  vAgInit = f32x4.splat(load<f32>(pp + 4 * P_AGINIT));
  thr = load<f32>(pp + 4 * P_THR);
  perRow = load<i32>(pp + 4 * P_ROWSTEP) != 0;
  tGlobal = load<u32>(pp + 4 * P_T);
  bias = <usize>load<u32>(pp + 4 * P_BIAS);
  biasCap = load<u32>(pp + 4 * P_BIASCAP);
  alpha = load<f32>(pp + 4 * P_ALPHA);
  vAlpha = f32x4.splat(alpha);
  slotOff = <usize>load<i32>(pp + 4 * P_SLOTOFF);
  nslots = slotCount();
}

// Adam-family preconditioner: (sqrt(v * c) + eps) / alpha.
@inline export function adamP(v: v128, c: v128, alpha: v128): v128 {
  return f32x4.div(f32x4.add(f32x4.sqrt(f32x4.mul(v, c)), vEps), alpha);
}

// Group form, first pass over one 4-lane chunk: moments, z, s and P + 2 l2.
// Stores s at so and the denominator at dn; returns the lanes' squared norm terms.
@inline export function groupChunk(
  xp: usize, gp: usize, hp: usize, zp: usize, ss: usize, so: usize, dn: usize,
  first: bool, vC1: v128, vC2: v128, vC2p: v128, vAlphaP: v128, vSqT: v128, vSqTp: v128,
): v128 {
  const g = v128.load(gp);
  const x = v128.load(xp);
  let mt = g;
  let P = ZERO;
  let Pp = ZERO;
  if (rule == R_ADAM || rule == R_AMSGRAD || rule == R_ADAHESSIAN) {
    const m = v128.load(zp + ss);
    const v = v128.load(zp + 2 * ss);
    const m2 = f32x4.add(f32x4.mul(vB1, m), f32x4.mul(vOmb1, g));
    const q = rule == R_ADAHESSIAN ? v128.load(hp) : g;
    const v2 = f32x4.add(f32x4.mul(vB2, v), f32x4.mul(vOmb2, f32x4.mul(q, q)));
    v128.store(zp + ss, m2);
    v128.store(zp + 2 * ss, v2);
    mt = f32x4.mul(m2, vC1);
    if (rule == R_AMSGRAD) {
      const vmax = v128.load(zp + 3 * ss);
      const vmax2 = f32x4.max(vmax, v2);
      v128.store(zp + 3 * ss, vmax2);
      P = adamP(vmax2, vC2, vAlpha);
      if (!first) Pp = adamP(vmax, vC2p, vAlphaP);
    } else {
      P = adamP(v2, vC2, vAlpha);
      if (!first) Pp = adamP(v, vC2p, vAlphaP);
    }
  } else if (rule == R_ADAGRAD) {
    const V = v128.load(zp + ss);
    const V2 = f32x4.add(first ? vAgInit : V, f32x4.mul(g, g));
    v128.store(zp + ss, V2);
    P = f32x4.div(f32x4.sqrt(V2), vAlpha);
    if (!first) Pp = f32x4.div(f32x4.sqrt(V), vAlphaP);
  } else if (rule == R_MOMENTUM) {
    const m2 = f32x4.add(f32x4.mul(vMom, v128.load(zp + ss)), g);
    v128.store(zp + ss, m2);
    mt = m2;
    P = f32x4.div(ONE, vAlpha);
    if (!first) Pp = f32x4.div(ONE, vAlphaP);
  } else {
    P = f32x4.div(vSqT, vAlpha);
    if (!first) Pp = f32x4.div(vSqTp, vAlphaP);
  }
  const z = f32x4.sub(f32x4.add(v128.load(zp), mt), f32x4.mul(f32x4.sub(P, Pp), x));
  v128.store(zp, z);
  // s = sign(z) * l1 - z where |z| > l1, else 0.
  const keep = f32x4.gt(f32x4.abs(z), vL1);
  const s = v128.and(f32x4.sub(v128.or(v128.and(z, SIGN), vL1), z), keep);
  const den = f32x4.add(P, vL2x2);
  v128.store(so, s);
  v128.store(dn, den);
  // The mask keeps padding lanes (where P may be 0) out of the norm.
  let ns = s;
  if (normMode == 1) ns = v128.and(f32x4.div(s, f32x4.sqrt(f32x4.add(f32x4.mul(P, HALF), vL2))), keep);
  else if (normMode == 2) ns = v128.and(f32x4.div(s, f32x4.add(f32x4.mul(P, HALF), vL2)), keep);
  return f32x4.mul(ns, ns);
}

// Plain (primal) form of one chunk: the textbook update, written separately.
@inline export function plainChunk(xp: usize, gp: usize, hp: usize, sp: usize, ss: usize, first: bool, vC1: v128, vC2: v128, vSqT: v128): void {
  const g = v128.load(gp);
  const x = v128.load(xp);
  let x2 = x;
  if (rule == R_ADAM || rule == R_AMSGRAD || rule == R_ADAHESSIAN) {
    const m = v128.load(sp);
    const v = v128.load(sp + ss);
    const m2 = f32x4.add(f32x4.mul(vB1, m), f32x4.mul(vOmb1, g));
    const q = rule == R_ADAHESSIAN ? v128.load(hp) : g;
    const v2 = f32x4.add(f32x4.mul(vB2, v), f32x4.mul(vOmb2, f32x4.mul(q, q)));
    v128.store(sp, m2);
    v128.store(sp + ss, v2);
    let vh = v2;
    if (rule == R_AMSGRAD) {
      vh = f32x4.max(v128.load(sp + 2 * ss), v2);
      v128.store(sp + 2 * ss, vh);
    }
    const step = f32x4.mul(vAlpha, f32x4.mul(m2, vC1));
    x2 = f32x4.sub(x, f32x4.div(step, f32x4.add(f32x4.sqrt(f32x4.mul(vh, vC2)), vEps)));
  } else if (rule == R_ADAGRAD) {
    const V2 = f32x4.add(first ? vAgInit : v128.load(sp), f32x4.mul(g, g));
    v128.store(sp, V2);
    x2 = f32x4.sub(x, f32x4.div(f32x4.mul(vAlpha, g), f32x4.sqrt(V2)));
  } else if (rule == R_MOMENTUM) {
    const m2 = f32x4.add(f32x4.mul(vMom, v128.load(sp)), g);
    v128.store(sp, m2);
    x2 = f32x4.sub(x, f32x4.mul(vAlpha, m2));
  } else {
    x2 = f32x4.sub(x, f32x4.mul(f32x4.div(vAlpha, vSqT), g));
  }
  v128.store(xp, x2);
}

export function slotCount(): i32 {
  let n = 0;
  if (rule == R_ADAM || rule == R_ADAHESSIAN) n = 2;
  else if (rule == R_AMSGRAD) n = 3;
  else if (rule == R_ADAGRAD || rule == R_MOMENTUM) n = 1;
  return n + group;
}
