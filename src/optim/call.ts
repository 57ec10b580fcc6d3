import type { Arena } from "../kernels/arena.js";
import {
  P_RULE, P_GROUP, P_D, P_NORM, P_ROWSTEP, P_T, P_SLOTOFF, P_BIAS, P_ALPHA, P_B1, P_OMB1, P_B2,
  P_OMB2, P_EPS, P_MOM, P_L1, P_L2X2, P_L2, P_THR, P_AGINIT, R_ADAGRAD, HEADER_BYTES,
} from "../kernels/layout.js";
import { RULES } from "./rules/index.js";
import { ruleSpec, type OptimizerName, type ResolvedHyperparams } from "./hyper.js";

const PARAM_WORDS = 20;

/**
 * The parameter block and bias-correction table one parameter passes to the
 * update kernels, kept in the parameter's arena. The table holds
 * (1/(1-b1^tau), 1/(1-b2^tau)) as float32 for tau = 0..capacity-1, computed
 * once here so that both kernel backends read the very same numbers.
 */
export class StepCall {
  readonly ptr: number;
  private bias = 0;
  private biasCap = 0;
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
    i32[b + P_NORM] = h.l21Norm === "raw" ? 0 : h.l21Norm === "scaled" ? 1 : 2;
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
    this.arena.heap.f32[b + P_ALPHA] = lr;
  }

  private ensureBias(t: number): void {
    if (t < this.biasCap) return;
    const cap = Math.max(1024, 2 ** Math.ceil(Math.log2(t + 1)));
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
