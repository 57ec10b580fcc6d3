/**
 * `ftrl` against McMahan et al. 2013, "Ad click prediction: a view from the
 * trenches", Algorithm 1 (per-coordinate FTRL-Proximal), written here from the
 * paper in float64:
 *
 *   w_i = 0                                                   if |z_i| <= lambda1
 *       = -(z_i - sgn(z_i) lambda1) / ((beta + sqrt(n_i))/alpha + lambda2)   otherwise
 *   g_i   = gradient at w
 *   sigma = (sqrt(n_i + g_i^2) - sqrt(n_i)) / alpha
 *   z_i  += g_i - sigma w_i
 *   n_i  += g_i^2
 *
 * Mapping to sparsectr's group-adagrad / ftrl (derived from Algorithm 1 of the
 * sparse-group-lasso paper with l21 = 0, so every row's shrink factor is 1):
 *  - x_{t+1} = s / (P_t + 2 l2) with s = sgn(z) l1 - z and P_t = sqrt(V_t)/alpha:
 *    so lambda1 = l1, beta = 0, and our l2 enters as 2 l2, i.e. lambda2 = 2 l2
 *    (the penalty is l2 ||x||^2, TensorFlow's convention);
 *  - z_t = z_{t-1} + g_t - (P_t - P_{t-1}) x_t and P_t - P_{t-1} = sigma as long
 *    as V_{t-1} is n before the step: V_0 = epsilon + initialAccumulator is
 *    McMahan's initial n. One caveat: the library takes P_0 = 0, so its very
 *    first (P_1 - P_0) is sqrt(V_1)/alpha, not sigma_1; this is harmless here
 *    because McMahan's weights start at w = 0 (they are a function of z = 0),
 *    so we start the library at x_1 = 0 too.
 *  - A coordinate with g_i = 0 is untouched in both (sigma = 0, z and n stay),
 *    so McMahan's "only for i with x_i != 0" loop equals a dense step, and a lazy
 *    sparse-table step over the active rows.
 *
 * Gradients are the log-loss gradients of a synthetic sparse logistic-regression
 * stream at the REFERENCE weights, rounded to float32 and fed to both, so the
 * two runs see the same gradient sequence (no feedback of float32 rounding).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createOptimizer, type Hyperparams } from "../../src/index.js";
import { Rng, relErr } from "../helpers/ref-rng.js";

class McMahanFtrl {
  readonly z: Float64Array;
  readonly n: Float64Array;
  constructor(size: number, readonly alpha: number, readonly beta: number, readonly lambda1: number, readonly lambda2: number, n0: number) {
    this.z = new Float64Array(size);
    this.n = new Float64Array(size).fill(n0);
  }
  weight(i: number): number {
    const z = this.z[i];
    if (Math.abs(z) <= this.lambda1) return 0;
    return -(z - Math.sign(z) * this.lambda1) / ((this.beta + Math.sqrt(this.n[i])) / this.alpha + this.lambda2);
  }
  weights(): Float64Array {
    return Float64Array.from(this.z, (_, i) => this.weight(i));
  }
  update(g: ArrayLike<number>): void {
    for (let i = 0; i < g.length; i++) {
      const gi = g[i];
      if (gi === 0) continue;
      const w = this.weight(i);
      const sigma = (Math.sqrt(this.n[i] + gi * gi) - Math.sqrt(this.n[i])) / this.alpha;
      this.z[i] += gi - sigma * w;
      this.n[i] += gi * gi;
    }
  }
}

const sigmoid = (u: number): number => 1 / (1 + Math.exp(-u));

interface Stream {
  rows: number;
  d: number;
  /** Active rows and their d feature values, per step. */
  active: number[][];
  values: Float64Array[];
  labels: number[];
}

/** A sparse logistic stream: row r is active with its own probability; a third of the rows carry no signal. */
function makeStream(seed: number, rows: number, d: number, steps: number): Stream {
  const rng = new Rng(seed);
  const prob = Array.from({ length: rows }, () => rng.uniform(0.03, 0.6));
  const wTrue = Float64Array.from({ length: rows * d }, (_, i) => (Math.floor(i / d) % 3 === 0 ? 0 : rng.normal()));
  const active: number[][] = [], values: Float64Array[] = [], labels: number[] = [];
  for (let t = 0; t < steps; t++) {
    const act: number[] = [];
    for (let r = 0; r < rows; r++) if (rng.next() < prob[r]) act.push(r);
    const v = new Float64Array(act.length * d);
    let u = 0;
    for (let k = 0; k < act.length; k++) {
      for (let j = 0; j < d; j++) {
        v[k * d + j] = rng.normal();
        u += wTrue[act[k] * d + j] * v[k * d + j];
      }
    }
    active.push(act);
    values.push(v);
    labels.push(rng.next() < sigmoid(u) ? 1 : 0);
  }
  return { rows, d, active, values, labels };
}

/** Float32 gradient of the log loss at weights w, dense (rows x d) and per active row. */
function gradients(s: Stream, t: number, w: ArrayLike<number>): { dense: Float32Array; sparse: Float32Array } {
  const act = s.active[t], v = s.values[t], d = s.d;
  let u = 0;
  for (let k = 0; k < act.length; k++) for (let j = 0; j < d; j++) u += w[act[k] * d + j] * v[k * d + j];
  const r = sigmoid(u) - s.labels[t];
  const sparse = new Float32Array(act.length * d);
  const dense = new Float32Array(s.rows * d);
  for (let k = 0; k < act.length; k++) {
    for (let j = 0; j < d; j++) {
      sparse[k * d + j] = r * v[k * d + j];
      dense[act[k] * d + j] = sparse[k * d + j];
    }
  }
  return { dense, sparse };
}

interface FtrlCase {
  label: string;
  name: "ftrl" | "group-adagrad";
  hyper: Hyperparams;
  /** McMahan's parameters derived from the mapping above. */
  alpha: number;
  lambda1: number;
  lambda2: number;
  n0: number;
}

const CASES: FtrlCase[] = [
  // ftrl defaults: lr 1e-3, epsilon 0, initialAccumulator 0.1.
  { label: "ftrl, default lr and accumulator", name: "ftrl", hyper: { l1: 3, l2: 0.5 }, alpha: 1e-3, lambda1: 3, lambda2: 1.0, n0: 0.1 },
  { label: "ftrl, lr 0.1", name: "ftrl", hyper: { lr: 0.1, l1: 6, l2: 0.05, initialAccumulator: 0.5 }, alpha: 0.1, lambda1: 6, lambda2: 0.1, n0: 0.5 },
  {
    label: "group-adagrad, l21 = 0, epsilon as V_0", name: "group-adagrad", hyper: { lr: 0.05, l1: 4, l2: 0.2, epsilon: 1e-3 },
    alpha: 0.05, lambda1: 4, lambda2: 0.4, n0: 1e-3,
  },
];

const STEPS = 700;

function compare(c: FtrlCase, ref: McMahanFtrl, lib: Float32Array, where: string): { zeros: number } {
  const w = ref.weights();
  const e = relErr(lib, w);
  assert.ok(e < 1e-5, `${where}: relative error ${e}`);
  let zeros = 0;
  for (let i = 0; i < w.length; i++) {
    const libZero = lib[i] === 0, refZero = w[i] === 0;
    if (refZero) zeros++;
    if (libZero !== refZero) {
      const border = Math.abs(Math.abs(ref.z[i]) - c.lambda1) <= 1e-6 * c.lambda1;
      assert.ok(border, `${where}: coordinate ${i} is ${libZero ? "" : "not "}zero in the library, |z| = ${Math.abs(ref.z[i])}, l1 = ${c.lambda1}`);
    }
  }
  return { zeros };
}

for (const backend of ["wasm", "ts"] as const) {
  for (const c of CASES) {
    for (const d of [1, 4]) {
      test(`FTRL [${backend}]: ${c.label} equals McMahan et al. 2013 FTRL-Proximal (dense, row length ${d})`, () => {
        const rows = d === 1 ? 40 : 12;
        const s = makeStream(100 + d, rows, d, STEPS);
        const ref = new McMahanFtrl(rows * d, c.alpha, 0, c.lambda1, c.lambda2, c.n0);
        const p = createOptimizer(c.name, c.hyper, { backend }).dense(new Float32Array(rows * d), { rows, rowLength: d });
        for (let t = 0; t < STEPS; t++) {
          const { dense } = gradients(s, t, ref.weights());
          p.step(dense);
          ref.update(dense);
          if (t % 50 === 49 || t < 5) compare(c, ref, p.weights(), `${c.label} d=${d} step ${t + 1}`);
        }
        // At the end the l1 threshold must actually bite, and not everything may be zero.
        const { zeros } = compare(c, ref, p.weights(), `${c.label} d=${d} final`);
        assert.ok(zeros >= rows * d * 0.1 && zeros <= rows * d * 0.9, `no real mix of zero and non-zero coordinates: ${zeros} of ${rows * d} zero`);
      });
    }
    test(`FTRL [${backend}]: ${c.label} as a lazy sparse table equals McMahan (row length 4)`, () => {
      const d = 4, rows = 12;
      const s = makeStream(7, rows, d, STEPS);
      const ref = new McMahanFtrl(rows * d, c.alpha, 0, c.lambda1, c.lambda2, c.n0);
      const tab = createOptimizer(c.name, c.hyper, { backend }).table({ rowLength: d, init: "zeros" });
      for (let t = 0; t < STEPS; t++) {
        const { sparse, dense } = gradients(s, t, ref.weights());
        if (s.active[t].length > 0) tab.step(Uint32Array.from(s.active[t]), sparse);
        ref.update(dense);
        if (t % 100 === 99) {
          const lib = new Float32Array(rows * d);
          for (let r = 0; r < rows; r++) lib.set(tab.get(r) ?? new Float32Array(d), r * d);
          const { zeros } = compare(c, ref, lib, `${c.label} table step ${t + 1}`);
          if (t === STEPS - 1) assert.ok(zeros > 0 && zeros < rows * d, `table: ${zeros} of ${rows * d} zero`);
        }
      }
      assert.equal(tab.size, rows);
    });
  }
}

test("FTRL: the reference is sensitive to the mapping (lambda2 = l2 instead of 2 l2 is caught)", () => {
  const c = CASES[1], d = 4, rows = 12;
  const s = makeStream(104, rows, d, STEPS);
  const ref = new McMahanFtrl(rows * d, c.alpha, 0, c.lambda1, c.lambda2, c.n0);
  const wrong = new McMahanFtrl(rows * d, c.alpha, 0, c.lambda1, c.lambda2 / 2, c.n0);
  const p = createOptimizer(c.name, c.hyper).dense(new Float32Array(rows * d), { rows, rowLength: d });
  for (let t = 0; t < STEPS; t++) {
    const { dense } = gradients(s, t, ref.weights());
    p.step(dense);
    ref.update(dense);
    wrong.update(dense);
  }
  assert.ok(relErr(p.weights(), ref.weights()) < 1e-5);
  assert.ok(relErr(p.weights(), wrong.weights()) > 1e-3);
});

test("FTRL: group-adagrad with l21 = 0 is ftrl bit for bit (dense and table, both backends, non-zero start)", () => {
  const hyper = { lr: 0.05, l1: 0.02, l2: 0.01 };
  const same = { ...hyper, epsilon: 0, initialAccumulator: 0.1, l21: 0 };
  for (const backend of ["wasm", "ts"] as const) {
    for (const d of [1, 4, 16]) {
      const rows = 9, n = rows * d;
      const rng = new Rng(31 + d);
      const x1 = new Float32Array(n).map(() => (rng.next() < 0.3 ? 0 : 0.1 * rng.normal()));
      const a = createOptimizer("ftrl", hyper, { backend }).dense(x1, { rows, rowLength: d });
      const b = createOptimizer("group-adagrad", same, { backend }).dense(x1, { rows, rowLength: d });
      const ta = createOptimizer("ftrl", hyper, { backend }).table({ rowLength: d, seed: 5, init: { normal: { std: 0.1 } } });
      const tb = createOptimizer("group-adagrad", same, { backend }).table({ rowLength: d, seed: 5, init: { normal: { std: 0.1 } } });
      for (let t = 0; t < 300; t++) {
        const g = new Float32Array(n).map(() => (rng.next() < 0.5 ? 0 : rng.normal()));
        a.step(g);
        b.step(g);
        const ids = Uint32Array.from({ length: 5 }, () => rng.int(40));
        const gs = new Float32Array(5 * d).map(() => rng.normal());
        ta.step(ids, gs);
        tb.step(ids, gs);
      }
      const wa = a.weights(), wb = b.weights();
      assert.ok(wa.every((v, i) => Object.is(v, wb[i])), `dense d=${d} ${backend}: ftrl and group-adagrad differ`);
      assert.equal(a.zeroRows, b.zeroRows);
      const ids = ta.ids();
      assert.deepEqual(Array.from(ids), Array.from(tb.ids()));
      const ga = ta.gather(ids), gb = tb.gather(ids);
      assert.ok(ga.every((v, i) => Object.is(v, gb[i])), `table d=${d} ${backend}: ftrl and group-adagrad differ`);
      assert.equal(ta.zeroRows, tb.zeroRows);
    }
  }
});

test("FTRL: l21 is refused, defaults are TensorFlow's", () => {
  assert.throws(() => createOptimizer("ftrl", { l21: 0.1 }), RangeError);
  const o = createOptimizer("ftrl");
  assert.equal(o.hyper.lr, 1e-3);
  assert.equal(o.hyper.epsilon, 0);
  assert.equal(o.hyper.initialAccumulator, 0.1);
  assert.equal(o.hyper.l21, 0);
});

test("FTRL: from a non-zero start the first step is a plain Adagrad step (P_0 = 0), not TensorFlow's", () => {
  // Documents the caveat in the header: with l1 = l2 = 0, one step from x_1 gives
  // x_2 = x_1 - alpha g / sqrt(n0 + g^2) (Theorem 2), whereas TensorFlow's FTRL kernel
  // (sigma_1 = (sqrt(n0 + g^2) - sqrt(n0)) / alpha) would give
  // x_2 = x_1 (1 - sqrt(n0 / (n0 + g^2))) - alpha g / sqrt(n0 + g^2).
  const x1 = new Float32Array([0.5, -0.25, 1]);
  const g = new Float32Array([0.3, 0.1, -2]);
  const p = createOptimizer("ftrl", { lr: 0.1 }).dense(x1, { rows: 1, rowLength: 3 });
  p.step(g);
  const adagradStep = Array.from(x1, (x, i) => x - (0.1 * g[i]) / Math.sqrt(0.1 + g[i] * g[i]));
  assert.ok(relErr(p.weights(), adagradStep) < 1e-6);
});
