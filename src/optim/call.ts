import type { Arena } from "../kernels/arena.js";
import {
  P_RULE, P_GROUP, P_D, P_NORM, P_ROWSTEP, P_T, P_SLOTOFF, P_BIAS, P_ALPHA, P_B1, P_OMB1, P_B2,
  P_OMB2, P_EPS, P_MOM, P_L1, P_L2X2, P_L2, P_THR, P_AGINIT, P_BIASCAP, R_ADAGRAD, HEADER_BYTES,
} from "../kernels/layout.js";
import { RULES } from "../math/rules/index.js";
import { ruleSpec, type OptimizerName, type ResolvedHyperparams, L21_NORMS } from "./hyper.js";

const PARAM_WORDS = 21;

/**
 * The parameter block and bias-correction table one parameter passes to the
 * update kernels, kept in the parameter's arena. The table holds
 * (1/(1-b1^tau), 1/(1-b2^tau)) as float32 for tau = 0..capacity-1, computed
 * once here so that both kernel backends read the very same numbers. Once
 * both entries are exactly 1.0 in float32 (beta^tau below half an ulp of 1:
 * after about 17,000 steps for beta2 = 0.999) every later step's entries are
 * too, so the table stops growing there and the kernels read its last entry
 * for later steps: 8 bytes a step only up to that point, whatever the run's length.
 */
export class StepCall {
  readonly ptr: number;
  private bias = 0;
  private biasCap = 0;
  private saturated = false;
  /** Moment slots plus z for the group form. */
  readonly slots: number;

  constructor(
    private readonly arena: Arena,
    readonly name: OptimizerName,
    readonly hyper: ResolvedHyperparams,
    readonly d: number,
    fused: boolean,
  ) {
    const { rule, group } = ruleSpec(name);
    this.slots = RULES[rule].slots.length + (group ? 1 : 0);
    this.ptr = arena.heap.alloc(PARAM_WORDS * 4);
    const h = hyper, f = Math.fround;
    const i32 = arena.heap.i32, w = arena.heap.f32, b = this.ptr >>> 2;
    i32[b + P_RULE] = rule;
    i32[b + P_GROUP] = group ? 1 : 0;
    i32[b + P_D] = d;
    i32[b + P_NORM] = L21_NORMS.indexOf(h.l21Norm);
    i32[b + P_ROWSTEP] = h.rowStep === "global" ? 0 : 1;
    i32[b + P_SLOTOFF] = HEADER_BYTES + (fused ? d * 4 : 0);
    w[b + P_B1] = h.beta1;
    w[b + P_OMB1] = f(1 - h.beta1);
    w[b + P_B2] = h.beta2;
    w[b + P_OMB2] = f(1 - h.beta2);
    w[b + P_EPS] = h.epsilon;
    w[b + P_MOM] = h.momentum;
    w[b + P_L1] = h.l1;
    w[b + P_L2X2] = f(2 * h.l2);
    w[b + P_L2] = h.l2;
    w[b + P_THR] = f(Math.sqrt(d) * h.l21);
    w[b + P_AGINIT] = rule === R_ADAGRAD ? f(h.epsilon + h.initialAccumulator) : 0;
  }

  /** Bytes of one row's state record: header + slots (+ x when fused). */
  recordBytes(fused: boolean): number {
    return HEADER_BYTES + (this.slots + (fused ? 1 : 0)) * this.d * 4;
  }

  /** Sets the step t and learning rate of the next kernel call. */
  prepare(t: number, lr: number): void {
    this.ensureBias(t);
    const b = this.ptr >>> 2;
    this.arena.heap.u32[b + P_T] = t;
    this.arena.heap.u32[b + P_BIAS] = this.bias;
    this.arena.heap.u32[b + P_BIASCAP] = this.biasCap;
    this.arena.heap.f32[b + P_ALPHA] = lr;
  }

  private ensureBias(t: number): void {
    if (t < this.biasCap || this.saturated) return;
    const sat = Math.max(saturation(this.hyper.beta1), saturation(this.hyper.beta2));
    let cap = Math.max(1024, 2 ** Math.ceil(Math.log2(t + 1)));
    if (sat + 1 <= cap) {
      // Every entry from sat on is exactly 1.0: the kernels read entry sat for later steps.
      cap = sat + 1;
      this.saturated = true;
    }
    const heap = this.arena.heap;
    const ptr = heap.alloc(cap * 8);
    const w = heap.f32, o = ptr >>> 2;
    for (let tau = 1; tau < cap; tau++) {
      w[o + 2 * tau] = 1 / (1 - Math.pow(this.hyper.beta1, tau));
      w[o + 2 * tau + 1] = 1 / (1 - Math.pow(this.hyper.beta2, tau));
    }
    if (this.bias) heap.release(this.bias);
    this.bias = ptr;
    this.biasCap = cap;
  }

  dispose(): void {
    if (this.bias) this.arena.heap.release(this.bias);
    this.arena.heap.release(this.ptr);
  }
}

/**
 * The first step tau at which 1/(1-beta^tau), rounded to float32, is exactly
 * 1.0 (it only falls with tau, so every later step's is too); Infinity when
 * it never is (beta >= 1). Binary search: no table is needed to find it.
 */
export function saturation(beta: number): number {
  const one = (tau: number): boolean => Math.fround(1 / (1 - Math.pow(beta, tau))) === 1;
  if (!(beta < 1)) return Infinity;
  if (one(1)) return 1;
  let lo = 1, hi = 2 ** 32;
  if (!one(hi)) return Infinity;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (one(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
