/**
 * Exact heavy-tailed rank sampling: P(rank k) ∝ (k + 1 + q)^-s for k in
 * [0, n) — Zipf's law (q = 0) or its Zipf–Mandelbrot shift (q > 0, a flat
 * head, used for count-like integer fields).
 *
 * Large vocabularies use rejection-inversion (Hörmann & Derflinger, "Rejection-
 * inversion to generate variates from monotone discrete distributions", ACM
 * TOMACS 6(3), 1996): O(1) memory and O(1) expected time for any n, so a field
 * of 20M values costs nothing to set up. Small vocabularies use Walker's alias
 * table (one uniform per draw, no transcendental functions), which is faster
 * and equally exact.
 */
import { unit53 } from "./hash.js";

/** Draws ranks in [0, n) from counter-based uniforms. */
export interface RankSampler {
  /** Vocabulary size. */
  readonly n: number;
  /**
   * A rank from the uniforms at (prefix, slot), (prefix, slot + 2), ...: draw j
   * uses slots slot + 2j and slot + 2j + 1, at most {@link MAX_DRAWS} draws.
   */
  sample(prefix: number, slot: number): number;
}

/** Vocabularies up to this size get an alias table (12 bytes per value). */
export const ALIAS_MAX = 65536;

/**
 * Draws a sampler may use for one value (its slot budget is 2 * MAX_DRAWS).
 * Rejection-inversion accepts with probability above 1/2 at every draw, so
 * reaching the limit has probability below 2^-2000.
 */
export const MAX_DRAWS = 2000;

/** The sampler for a vocabulary of n values with exponent s and shift q. */
export function rankSampler(n: number, s: number, q = 0): RankSampler {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`Zipf: vocabulary size ${n} must be a positive integer`);
  if (!(s > 0) || !Number.isFinite(s)) throw new RangeError(`Zipf: exponent ${s} must be a positive number`);
  if (!(q >= 0) || !Number.isFinite(q)) throw new RangeError(`Zipf: shift ${q} must be a non-negative number`);
  return n <= ALIAS_MAX ? new AliasSampler(n, s, q) : new RejectionInversionSampler(n, s, q);
}

/**
 * Walker's alias method (Vose's construction) over the exact probabilities.
 * Each column's threshold and alias sit side by side (one cache line per
 * draw: columns are hit uniformly, so big tables miss the cache).
 */
export class AliasSampler implements RankSampler {
  /** [threshold, alias] per column. */
  private readonly table: Float64Array;

  constructor(readonly n: number, s: number, q: number) {
    const w = new Float64Array(n);
    let total = 0, comp = 0; // Neumaier sum: the tail terms are tiny next to the head
    for (let k = 0; k < n; k++) {
      const v = Math.pow(k + 1 + q, -s);
      w[k] = v;
      const t = total + v;
      comp += Math.abs(total) >= v ? total - t + v : v - t + total;
      total = t;
    }
    total += comp;
    const table = new Float64Array(2 * n);
    const small = new Int32Array(n), large = new Int32Array(n);
    let ns = 0, nl = 0;
    for (let k = 0; k < n; k++) {
      w[k] = (w[k] * n) / total;
      if (w[k] < 1) small[ns++] = k;
      else large[nl++] = k;
    }
    while (ns > 0 && nl > 0) {
      const a = small[--ns], b = large[nl - 1];
      table[2 * a] = w[a];
      table[2 * a + 1] = b;
      w[b] = w[b] + w[a] - 1;
      if (w[b] < 1) { nl--; small[ns++] = b; }
    }
    // Left-overs are 1 up to rounding: they keep their own column.
    while (nl > 0) { const b = large[--nl]; table[2 * b] = 1; table[2 * b + 1] = b; }
    while (ns > 0) { const a = small[--ns]; table[2 * a] = 1; table[2 * a + 1] = a; }
    this.table = table;
  }

  sample(prefix: number, slot: number): number {
    const x = unit53(prefix, slot) * this.n;
    const i = Math.floor(x);
    return x - i < this.table[2 * i] ? i : this.table[2 * i + 1];
  }
}

/**
 * Rejection-inversion for h(x) = (x + q)^-s over x in [1, n] (rank = x - 1).
 * H is an antiderivative of h. Near s = 1 it is written through helper
 * functions that stay accurate as H becomes a logarithm; elsewhere it is the
 * plain power (x + q)^(1-s) / (1-s), which for s > 1 tends to 0 instead of to a
 * constant, so the far tail keeps full relative precision (the helper form
 * loses it there: H(k + 1/2) - h(k) would be rounded to the constant).
 */
export class RejectionInversionSampler implements RankSampler {
  private readonly hIntegralX1: number;
  private readonly hIntegralN: number;
  /** Quick-acceptance threshold: k - x <= this accepts without evaluating H. */
  private readonly quick: number;
  private readonly oneMinusS: number;
  /** Use the plain power form of H (|1 - s| >= 0.05). */
  private readonly plain: boolean;

  constructor(readonly n: number, private readonly s: number, private readonly q: number) {
    this.oneMinusS = 1 - s;
    this.plain = Math.abs(1 - s) >= 0.05;
    this.hIntegralX1 = this.hIntegral(1.5) - this.h(1);
    this.hIntegralN = this.hIntegral(n + 0.5);
    const quick = 2 - this.hIntegralInverse(this.hIntegral(2.5) - this.h(2));
    // The paper's quick test relies on k - H^-1(H(k + 1/2) - h(k)) growing with
    // k; check that for this (s, q) on a grid and drop the shortcut otherwise
    // (ignoring differences at the level of rounding in x, about 1e-16 (k + q)).
    this.quick = this.quickHolds(quick) ? quick : -Infinity;
  }

  private quickHolds(quick: number): boolean {
    for (let k = 2; k <= this.n; k = k < 64 ? k + 1 : Math.ceil(k * 1.1)) {
      if (k - this.hIntegralInverse(this.hIntegral(k + 0.5) - this.h(k)) < quick - 1e-13 * (k + this.q)) return false;
    }
    return true;
  }

  sample(prefix: number, slot: number): number {
    const n = this.n;
    for (let j = 0; j < MAX_DRAWS; j++) {
      const u = this.hIntegralN + unit53(prefix, slot + 2 * j) * (this.hIntegralX1 - this.hIntegralN);
      const x = this.hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (!(k >= 1)) k = 1;
      else if (k > n) k = n;
      if (k - x <= this.quick || u >= this.hIntegral(k + 0.5) - this.h(k)) return k - 1;
    }
    throw new Error("Zipf: rejection-inversion exhausted its draws (cannot happen with a working hash)");
  }

  private h(x: number): number {
    return Math.exp(-this.s * Math.log(x + this.q));
  }

  /** (x + q)^(1-s) / (1-s), or the same minus 1/(1-s) (-> log(x + q) at s = 1) near s = 1. */
  private hIntegral(x: number): number {
    const lx = Math.log(x + this.q), a = this.oneMinusS;
    return this.plain ? Math.exp(a * lx) / a : helper2(a * lx) * lx;
  }

  private hIntegralInverse(y: number): number {
    const a = this.oneMinusS;
    if (this.plain) return Math.exp(Math.log(a * y) / a) - this.q;
    let t = y * a;
    if (t < -1) t = -1; // only reachable by rounding at the lower end
    return Math.exp(helper1(t) * y) - this.q;
  }
}

/** log(1 + t) / t, continuous at 0. */
function helper1(t: number): number {
  return t === 0 ? 1 : Math.log1p(t) / t;
}

/** (e^t - 1) / t, continuous at 0. */
function helper2(t: number): number {
  return t === 0 ? 1 : Math.expm1(t) / t;
}
