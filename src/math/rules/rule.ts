/**
 * A moment rule: the part of an optimizer that differs between Adam, Adagrad,
 * ... It turns a gradient into the first moment m_t and the preconditioner
 * P_t = sqrt(V_t)/alpha_t of Algorithm 1 (group form), or applies the textbook
 * primal update (plain form). Everything else (z, the l1/l21/l2 closed form)
 * is shared: see ../prox.ts.
 *
 * These are the scalar float32 reference versions: one coordinate at a time,
 * every operation rounded to float32 (Math.fround) in the same order as the
 * WebAssembly kernel (src/kernels/assembly/rows.ts), so both give equal bits.
 */
export interface RowContext {
  /** True on the row's first update (then P_{t-1} = 0). */
  first: boolean;
  /** Bias corrections 1/(1-beta^tau) for this update and, c2p, the previous one. */
  c1: number;
  c2: number;
  c2p: number;
  /** Learning rate now and at the row's previous update. */
  alpha: number;
  alphaP: number;
  /** sqrt(tau) and sqrt(tau_prev), float32. */
  sqT: number;
  sqTp: number;
  b1: number;
  omb1: number;
  b2: number;
  omb2: number;
  eps: number;
  mom: number;
  /** Adagrad's V_0 added at the first update: epsilon + initialAccumulator. */
  agInit: number;
}

/** Output of the group form for one coordinate. */
export interface Moments {
  mt: number;
  P: number;
  Pp: number;
}

export interface MomentRule {
  readonly id: number;
  /** Moment slots per coordinate (z of the group form comes on top). */
  readonly slots: readonly string[];
  /**
   * Group form: updates the moment slots s[o], s[o+ss], ... of one coordinate
   * and returns m_t, P_t and P_{t-1} in out.
   */
  group(c: RowContext, s: Float32Array, o: number, ss: number, g: number, h: number, out: Moments): void;
  /** Plain form: updates the slots and returns the new weight. */
  plain(c: RowContext, s: Float32Array, o: number, ss: number, x: number, g: number, h: number): number;
}
