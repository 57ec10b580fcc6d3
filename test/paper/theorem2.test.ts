/**
 * Theorem 2 of the paper: with l1 = l21 = l2 = 0, Algorithm 1 (the group /
 * dual-averaging form) produces the same iterates as the plain optimizer in
 * its textbook primal form.
 *
 * The reference below is written from the textbook formulas, in float64, and
 * shares no code with the library:
 *   sgd        x -= (lr_t / sqrt(t)) g
 *   momentum   m = gamma m + g;                       x -= lr_t m
 *   adagrad    V = V + g^2 (V_0 = eps + initAcc);     x -= lr_t g / sqrt(V)
 *   adam       mh = b1 mh + (1-b1) g; vh = b2 vh + (1-b2) g^2
 *              x -= lr_t (mh/(1-b1^t)) / (sqrt(vh/(1-b2^t)) + eps)
 *   amsgrad    as adam with vmax = max(vmax, vh) in place of vh
 *   adahessian as adam with vh fed by D^2 (D = the Hessian-diagonal estimate)
 * Both the library's group form ("group-*") and its plain form are compared
 * with it, on both kernel backends, for row lengths 1, 8 and 16, over 600
 * steps of random gradients (with bursts, so AMSGrad's running max matters)
 * from a random non-zero x_1.
 *
 * Tolerances: the library computes in float32, the reference in float64. The
 * relative error of the whole weight vector must stay below 1e-5; the
 * displacement x_t - x_1 (which is what the rule actually produces, and which
 * is small when lr is small) must agree to 1e-4 relative.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createOptimizer, type Hyperparams } from "../../src/index.js";
import { Rng, relErr } from "../helpers/ref-rng.js";

type Rule = "sgd" | "momentum" | "adagrad" | "adam" | "amsgrad" | "adahessian";
type Backend = "wasm" | "ts";

interface RefHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  gamma: number;
  initAcc: number;
}

/** The documented defaults, written down here independently of the library. */
function refDefaults(rule: Rule): RefHyper {
  const adamish = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, gamma: 0, initAcc: 0 };
  switch (rule) {
    case "sgd": return { ...adamish, lr: 1e-2 };
    case "momentum": return { ...adamish, lr: 1e-2, gamma: 0.9 };
    case "adagrad": return { ...adamish, lr: 1e-2, eps: 1e-10 };
    case "adam": case "amsgrad": return adamish;
    case "adahessian": return { ...adamish, lr: 0.1, eps: 1e-4 };
  }
}

function refHyper(rule: Rule, h: Hyperparams): RefHyper {
  const d = refDefaults(rule);
  return {
    lr: h.lr ?? d.lr,
    beta1: h.beta1 ?? d.beta1,
    beta2: h.beta2 ?? d.beta2,
    eps: h.epsilon ?? d.eps,
    gamma: h.momentum ?? d.gamma,
    initAcc: h.initialAccumulator ?? d.initAcc,
  };
}

/**
 * Textbook primal form in float64. Returns x after each step listed in
 * `checkpoints` (x_{t+1} after t steps).
 */
function referencePlain(
  rule: Rule, h: RefHyper, x1: Float32Array, grads: Float32Array[], hess: Float32Array[] | null,
  lrs: number[] | null, checkpoints: number[],
): Map<number, Float64Array> {
  const n = x1.length;
  const x = Float64Array.from(x1);
  const m = new Float64Array(n), v = new Float64Array(n), vmax = new Float64Array(n);
  const V = new Float64Array(n).fill(h.eps + h.initAcc);
  const out = new Map<number, Float64Array>();
  for (let t = 1; t <= grads.length; t++) {
    const g = grads[t - 1];
    const lr = lrs ? lrs[t - 1] : h.lr;
    for (let i = 0; i < n; i++) {
      const gi = g[i];
      switch (rule) {
        case "sgd":
          x[i] -= (lr / Math.sqrt(t)) * gi;
          break;
        case "momentum":
          m[i] = h.gamma * m[i] + gi;
          x[i] -= lr * m[i];
          break;
        case "adagrad":
          V[i] += gi * gi;
          x[i] -= (lr * gi) / Math.sqrt(V[i]);
          break;
        case "adam":
        case "amsgrad":
        case "adahessian": {
          const q = rule === "adahessian" ? hess![t - 1][i] : gi;
          m[i] = h.beta1 * m[i] + (1 - h.beta1) * gi;
          v[i] = h.beta2 * v[i] + (1 - h.beta2) * q * q;
          let second = v[i];
          if (rule === "amsgrad") {
            vmax[i] = Math.max(vmax[i], v[i]);
            second = vmax[i];
          }
          const mHat = m[i] / (1 - h.beta1 ** t);
          const vHat = second / (1 - h.beta2 ** t);
          x[i] -= (lr * mHat) / (Math.sqrt(vHat) + h.eps);
          break;
        }
      }
    }
    if (checkpoints.includes(t)) out.set(t, Float64Array.from(x));
  }
  return out;
}

interface Case {
  rule: Rule;
  hyper: Hyperparams;
  /** Per-step learning rate passed as step option (a schedule), or none. */
  schedule?: (t: number) => number;
  label: string;
}

const CASES: Case[] = [
  { rule: "sgd", hyper: {}, label: "defaults" },
  { rule: "sgd", hyper: { lr: 0.05 }, label: "lr 0.05" },
  { rule: "momentum", hyper: {}, label: "defaults" },
  { rule: "momentum", hyper: { momentum: 0.7, lr: 0.05 }, label: "momentum 0.7, lr 0.05" },
  { rule: "momentum", hyper: { momentum: 0.5, lr: 0.02 }, schedule: (t) => 0.02 * (1 + 0.5 * Math.sin(t / 7)), label: "lr schedule" },
  { rule: "adagrad", hyper: {}, label: "defaults" },
  { rule: "adagrad", hyper: { lr: 0.05, initialAccumulator: 0.1 }, label: "lr 0.05, initialAccumulator 0.1" },
  { rule: "adagrad", hyper: { lr: 0.1, epsilon: 1e-3 }, schedule: (t) => 0.1 / (1 + t / 100), label: "lr schedule" },
  { rule: "adam", hyper: {}, label: "defaults" },
  { rule: "adam", hyper: { beta1: 0.5, beta2: 0.99, lr: 0.05, epsilon: 1e-6 }, label: "beta1 0.5, beta2 0.99, lr 0.05" },
  { rule: "adam", hyper: { lr: 0.05 }, schedule: (t) => 0.05 / Math.sqrt(t), label: "lr 0.05/sqrt(t) schedule" },
  { rule: "amsgrad", hyper: {}, label: "defaults" },
  { rule: "amsgrad", hyper: { beta1: 0.5, beta2: 0.95, lr: 0.05 }, label: "beta1 0.5, beta2 0.95, lr 0.05" },
  { rule: "adahessian", hyper: {}, label: "defaults" },
  { rule: "adahessian", hyper: { beta1: 0.5, lr: 0.05, epsilon: 1e-3 }, label: "beta1 0.5, lr 0.05, eps 1e-3" },
  { rule: "sgd", hyper: { lr: 0.03 }, schedule: (t) => (t % 100 < 50 ? 0.03 : 0.01), label: "step-wise lr schedule" },
];

const SHAPES = [
  { rows: 5, rowLength: 1 },
  { rows: 3, rowLength: 8 },
  { rows: 3, rowLength: 16 },
];
const STEPS = 600;
const CHECKPOINTS = [1, 2, 10, 100, 300, 600];

function makeData(seed: number, n: number, d: number, withHess: boolean): { x1: Float32Array; grads: Float32Array[]; hess: Float32Array[] | null } {
  const rng = new Rng(seed);
  const x1 = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = rng.normal();
    while (Math.abs(v) < 0.05) v = rng.normal();
    x1[i] = v;
  }
  // Per-column scales so the adaptive preconditioner differs across a row.
  const colScale = Array.from({ length: d }, () => Math.exp(rng.uniform(-1.5, 1.5)));
  const grads: Float32Array[] = [];
  const hess: Float32Array[] = [];
  for (let t = 1; t <= STEPS; t++) {
    const burst = t % 60 < 4 ? 6 : 1; // gradient bursts: AMSGrad's vmax then exceeds vh
    const g = new Float32Array(n);
    for (let i = 0; i < n; i++) g[i] = rng.normal() * colScale[i % d] * burst + 0.1 * colScale[i % d];
    grads.push(g);
    if (withHess) {
      const hd = new Float32Array(n);
      for (let i = 0; i < n; i++) hd[i] = rng.normal() * colScale[(i + 1) % d] * 2;
      hess.push(hd);
    }
  }
  return { x1, grads, hess: withHess ? hess : null };
}

function runLibrary(
  name: string, hyper: Hyperparams, backend: Backend, shape: { rows: number; rowLength: number },
  x1: Float32Array, grads: Float32Array[], hess: Float32Array[] | null, schedule: ((t: number) => number) | undefined,
): Map<number, Float32Array> {
  const opt = createOptimizer(name as never, hyper, { backend });
  const p = opt.dense(x1, shape);
  const out = new Map<number, Float32Array>();
  for (let t = 1; t <= grads.length; t++) {
    const opts: { hessian?: Float32Array; lr?: number } = {};
    if (hess) opts.hessian = hess[t - 1];
    if (schedule) opts.lr = schedule(t);
    p.step(grads[t - 1], opts);
    if (CHECKPOINTS.includes(t)) out.set(t, p.weights());
  }
  assert.equal(p.stepCount, grads.length);
  p.dispose();
  return out;
}

for (const backend of ["wasm", "ts"] as const) {
  for (const [ci, c] of CASES.entries()) {
    test(`Theorem 2 [${backend}]: group-${c.rule} with l1 = l21 = l2 = 0 equals textbook ${c.rule} (${c.label})`, () => {
      const h = refHyper(c.rule, c.hyper);
      for (const [si, shape] of SHAPES.entries()) {
        const n = shape.rows * shape.rowLength;
        const { x1, grads, hess } = makeData(1000 + 17 * ci + si, n, shape.rowLength, c.rule === "adahessian");
        const lrs = c.schedule ? grads.map((_, k) => c.schedule!(k + 1)) : null;
        const ref = referencePlain(c.rule, h, x1, grads, hess, lrs, CHECKPOINTS);
        for (const name of [`group-${c.rule}`, c.rule]) {
          const got = runLibrary(name, c.hyper, backend, shape, x1, grads, hess, c.schedule);
          for (const t of CHECKPOINTS) {
            const xr = ref.get(t)!, xl = got.get(t)!;
            const e = relErr(xl, xr);
            assert.ok(e < 1e-5, `${name} ${c.label} d=${shape.rowLength} t=${t}: relative error ${e.toExponential(3)} >= 1e-5`);
            const dl = xl.map((v, i) => v - x1[i]);
            const dr = xr.map((v, i) => v - x1[i]);
            const ed = relErr(dl, dr);
            assert.ok(ed < 1e-4, `${name} ${c.label} d=${shape.rowLength} t=${t}: displacement relative error ${ed.toExponential(3)} >= 1e-4`);
          }
        }
      }
    });
  }
}

test("Theorem 2: the reference itself is sensitive (a wrong bias correction or momentum is caught)", () => {
  // Guard against a vacuous comparison: perturbing the reference's hyperparameters
  // slightly must break the 1e-5 agreement.
  const shape = { rows: 3, rowLength: 8 };
  const { x1, grads } = makeData(4242, 24, 8, false);
  const lib = runLibrary("group-adam", { beta1: 0.5, lr: 0.05 }, "wasm", shape, x1, grads, null, undefined).get(600)!;
  const good = referencePlain("adam", refHyper("adam", { beta1: 0.5, lr: 0.05 }), x1, grads, null, null, [600]).get(600)!;
  const bad = referencePlain("adam", refHyper("adam", { beta1: 0.51, lr: 0.05 }), x1, grads, null, null, [600]).get(600)!;
  assert.ok(relErr(lib, good) < 1e-5);
  assert.ok(relErr(lib, bad) > 1e-4, `a 0.01 change of beta1 moved x by only ${relErr(lib, bad)}`);
  const libM = runLibrary("group-momentum", { momentum: 0.7, lr: 0.05 }, "ts", shape, x1, grads, null, undefined).get(600)!;
  const badM = referencePlain("momentum", refHyper("momentum", { momentum: 0.69, lr: 0.05 }), x1, grads, null, null, [600]).get(600)!;
  assert.ok(relErr(libM, badM) > 1e-4);
});

test("Theorem 2: adahessian needs its Hessian estimate; plain forms refuse regularisers", () => {
  const opt = createOptimizer("group-adahessian", { l1: 0, l21: 0, l2: 0 });
  const p = opt.dense(new Float32Array([1, 2]), { rows: 1, rowLength: 2 });
  assert.throws(() => p.step(new Float32Array([0.1, 0.2])));
  // Plain forms refuse regularisers (they would be silently ignored otherwise).
  assert.throws(() => createOptimizer("adam", { l1: 0.1 }));
});
