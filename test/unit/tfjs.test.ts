// sparsectr/tfjs against the two references it must equal:
// (1) sparsectr's own optimizers (createOptimizer(...).dense), with l1, l21
//     and l2 on, over 30 steps of the same seeded gradients, for every rule,
//     every l21 norm and each way a variable is grouped;
// (2) with every regulariser at 0, tfjs's built-in optimizers of the same
//     family (tf.train.adam, adagrad, momentum, sgd).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { createOptimizer, type Hyperparams } from "../../src/index.js";
import { GroupAdagrad, GroupAdam, GroupAMSGrad, GroupMomentum, GroupSGD, type GroupOptimizer } from "../../src/tfjs/index.js";
import { rng } from "../helpers/rng.js";

await tf.setBackend("cpu");
tf.enableProdMode(); // silences the "install tfjs-node" notice; changes no numerics

type Rule = "sgd" | "momentum" | "adagrad" | "adam" | "amsgrad";
const RULES: readonly Rule[] = ["sgd", "momentum", "adagrad", "adam", "amsgrad"];
type Options = Hyperparams & { vectors?: "elements" | "group"; regularize?: readonly string[] };
const CLASSES: Record<Rule, new (o: Options) => GroupOptimizer> = {
  sgd: GroupSGD, momentum: GroupMomentum, adagrad: GroupAdagrad, adam: GroupAdam, amsgrad: GroupAMSGrad,
};
// l21 per rule and norm (the norms differ in scale), strong enough that the
// weak rows (a third of each variable) are pruned within the 30 steps while
// the others live.
const HYPER: Record<Rule, Hyperparams> = {
  sgd: { lr: 0.2, l1: 0.005, l2: 0.05 },
  momentum: { lr: 0.1, l1: 0.005, l2: 0.05 },
  adagrad: { lr: 0.1, l1: 0.005, l2: 0.05 },
  adam: { lr: 0.01, l1: 0.005, l2: 0.05 },
  amsgrad: { lr: 0.01, l1: 0.005, l2: 0.05 },
};
const L21: Record<Rule, Record<"raw" | "scaled" | "eq10", number>> = {
  sgd: { raw: 3, scaled: 1, eq10: 0.3 },
  momentum: { raw: 10, scaled: 3, eq10: 3 },
  adagrad: { raw: 1, scaled: 1, eq10: 0.7 },
  adam: { raw: 1, scaled: 1, eq10: 0.5 },
  amsgrad: { raw: 1, scaled: 1, eq10: 0.5 },
};

interface Case {
  shape: number[];
  vectors: "elements" | "group";
  rows: number;
  d: number;
}
// A Dense-kernel-like matrix, a bias per element and as one group, a rank-3 variable and a scalar.
const CASES: Case[] = [
  { shape: [12, 6], vectors: "elements", rows: 12, d: 6 },
  { shape: [10], vectors: "elements", rows: 10, d: 1 },
  { shape: [10], vectors: "group", rows: 1, d: 10 },
  { shape: [6, 3, 2], vectors: "elements", rows: 6, d: 6 },
  { shape: [], vectors: "elements", rows: 1, d: 1 },
];

const f32bits = new Float32Array(1), u32bits = new Uint32Array(f32bits.buffer);
/** Units in the last place between two float32 values of the same sign (0 when equal). */
function ulps(a: number, b: number): number {
  if (a === b) return 0;
  if (Math.sign(a) !== Math.sign(b)) return Infinity;
  f32bits[0] = a;
  const ia = u32bits[0];
  f32bits[0] = b;
  return Math.abs(ia - u32bits[0]);
}

function zeroRowsOf(x: Float32Array, rows: number, d: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) if (x.subarray(r * d, r * d + d).every((v) => v === 0)) out.push(r);
  return out;
}

/** Gradients whose rows r % 3 == 0 are weak (they should be pruned), the others a fixed direction plus noise. */
function gradients(seed: number, rows: number, d: number, steps: number): Float32Array[] {
  const r = rng(seed);
  const dir = Float32Array.from({ length: rows * d }, () => r() * 2 - 1);
  return Array.from({ length: steps }, () => Float32Array.from(dir, (v, i) => (Math.floor(i / d) % 3 === 0 ? 0.02 : 1) * (v + (r() - 0.5))));
}

interface Stats {
  maxAbs: number;
  maxUlps: number;
  maxRelRow: number;
  zeroRows: number;
  liveRows: number;
}

/** Runs one rule and case through both implementations; checks zero rows every step, returns the differences. */
function compare(rule: Rule, norm: "raw" | "scaled" | "eq10", c: Case, seed: number, steps: number): Stats {
  const hyper = { ...HYPER[rule], l21: L21[rule][norm], l21Norm: norm };
  const r = rng(seed);
  const n = c.rows * c.d;
  const init = Float32Array.from({ length: n }, () => (r() * 2 - 1) * 0.5);
  const ref = createOptimizer(`group-${rule}`, hyper).dense(init, { rows: c.rows, rowLength: c.d });
  const opt = new CLASSES[rule]({ ...hyper, vectors: c.vectors });
  const name = `parity/${rule}/${norm}/${seed}`;
  const x = tf.variable(tf.tensor(init, c.shape), true, name);
  const stats: Stats = { maxAbs: 0, maxUlps: 0, maxRelRow: 0, zeroRows: 0, liveRows: 0 };
  for (const g of gradients(seed + 1, c.rows, c.d, steps)) {
    ref.step(g);
    const gt = tf.tensor(g, c.shape);
    opt.applyGradients({ [name]: gt });
    gt.dispose();
    const a = x.dataSync() as Float32Array, b = ref.view();
    const za = zeroRowsOf(a, c.rows, c.d), zb = zeroRowsOf(b, c.rows, c.d);
    assert.deepEqual(za, zb, `${name} ${c.shape}: zero rows differ at step ${opt.iterations}`);
    for (let row = 0; row < c.rows; row++) {
      let rowMax = 0, rowDiff = 0;
      for (let j = row * c.d; j < row * c.d + c.d; j++) {
        rowMax = Math.max(rowMax, Math.abs(b[j]));
        rowDiff = Math.max(rowDiff, Math.abs(a[j] - b[j]));
        stats.maxUlps = Math.max(stats.maxUlps, ulps(a[j], b[j]));
      }
      stats.maxAbs = Math.max(stats.maxAbs, rowDiff);
      if (rowMax > 0) stats.maxRelRow = Math.max(stats.maxRelRow, rowDiff / rowMax);
    }
  }
  const final = ref.weights();
  stats.zeroRows = zeroRowsOf(final, c.rows, c.d).length;
  stats.liveRows = c.rows - stats.zeroRows;
  ref.dispose();
  opt.dispose();
  x.dispose();
  return stats;
}

/**
 * Runs fn with the CPU backend's Sum kernel replaced by one that adds a row's
 * squares in sparsectr's order (four float32 lane accumulators, element i in
 * lane i mod 4, then (l0 + l1) + (l2 + l3)); the stock kernel adds in float64
 * and rounds once. Only [rows, d] sums over axis 1 are redirected.
 */
function withLaneSum(fn: () => void): void {
  const stock = tf.getKernel("Sum", "cpu");
  assert.ok(stock, "the cpu backend has a Sum kernel");
  const f = Math.fround;
  const laneSum: tf.KernelFunc = (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const ax = Array.isArray(axis) ? axis : [axis];
    if (x.shape.length !== 2 || x.dtype !== "float32" || ax.length !== 1 || (ax[0] !== 1 && ax[0] !== -1)) return stock.kernelFunc(args);
    const backend = args.backend as tf.KernelBackend & { makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): tf.TensorInfo };
    const v = backend.readSync(x.dataId) as Float32Array;
    const [rows, d] = x.shape;
    const out = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const acc = [0, 0, 0, 0];
      for (let i = 0; i < d; i++) acc[i & 3] = f(acc[i & 3] + v[r * d + i]);
      out[r] = f(f(acc[0] + acc[1]) + f(acc[2] + acc[3]));
    }
    return backend.makeTensorInfo(keepDims ? [rows, 1] : [rows], "float32", out);
  };
  tf.unregisterKernel("Sum", "cpu");
  tf.registerKernel({ kernelName: "Sum", backendName: "cpu", kernelFunc: laneSum });
  try {
    fn();
  } finally {
    tf.unregisterKernel("Sum", "cpu");
    tf.registerKernel(stock);
  }
}

const NORMS = ["raw", "scaled", "eq10"] as const;

test("with the group sums added in sparsectr's order, every rule, norm and grouping is bit-identical to sparsectr's optimizer for 30 steps", (t) => {
  withLaneSum(() => {
    for (const rule of RULES) {
      for (const norm of NORMS) {
        let zero = 0, live = 0;
        CASES.forEach((c, i) => {
          const s = compare(rule, norm, c, 100 * i + 7, 30);
          assert.equal(s.maxUlps, 0, `${rule} ${norm} [${c.shape}] ${c.vectors}: float32 bits differ (${s.maxAbs})`);
          if (c.rows > 1) { zero += s.zeroRows; live += s.liveRows; }
        });
        // The regularisers must matter: some groups pruned, others kept.
        assert.ok(zero > 0 && live > 0, `${rule} ${norm}: ${zero} zero rows, ${live} live rows`);
      }
    }
    t.diagnostic("every rule x norm x grouping: 0 ulps over 30 steps");
  });
});

test("on the stock CPU backend every rule, norm and grouping equals sparsectr's optimizer to float32 rounding for 30 steps, with the same zero rows", (t) => {
  for (const rule of RULES) {
    for (const norm of NORMS) {
      let worst = { maxAbs: 0, maxUlps: 0, maxRelRow: 0 }, zero = 0, live = 0;
      CASES.forEach((c, i) => {
        const s = compare(rule, norm, c, 100 * i + 7, 30);
        worst = { maxAbs: Math.max(worst.maxAbs, s.maxAbs), maxUlps: Math.max(worst.maxUlps, s.maxUlps), maxRelRow: Math.max(worst.maxRelRow, s.maxRelRow) };
        if (c.rows > 1) { zero += s.zeroRows; live += s.liveRows; }
      });
      t.diagnostic(`${rule} ${norm}: max |diff| ${worst.maxAbs.toExponential(2)}, max ulps ${worst.maxUlps}, max row-relative ${worst.maxRelRow.toExponential(2)}; zero rows ${zero}, live ${live}`);
      assert.ok(zero > 0 && live > 0, `${rule} ${norm}: ${zero} zero rows, ${live} live rows`);
      // The stock Sum adds in float64 (the previous test shows that this is
      // the only difference). The shrink factor k = 1 - thr/||n|| loses
      // relative precision when ||n|| is close to thr, by 1/k, so a group just
      // above the threshold differs by more than a few ulps; rows far from it
      // agree to about 1e-7.
      assert.ok(worst.maxRelRow <= 1e-4, `${rule} ${norm}: row-relative difference ${worst.maxRelRow}`);
    }
  }
});

test("without l21 (no group sum) the weights are bit-identical to sparsectr's", () => {
  for (const rule of RULES) {
    const c = CASES[0];
    const hyper = HYPER[rule];
    const r = rng(5);
    const init = Float32Array.from({ length: c.rows * c.d }, () => r() * 2 - 1);
    for (const plain of [false, true]) {
      // The plain form (variable left out by `regularize`) against sparsectr's plain optimizer.
      const ref = plain
        ? createOptimizer(rule, rule === "momentum" ? { lr: hyper.lr, momentum: 0.9 } : { lr: hyper.lr }).dense(init, { rows: c.rows, rowLength: c.d })
        : createOptimizer(`group-${rule}`, hyper).dense(init, { rows: c.rows, rowLength: c.d });
      const name = `bits/${rule}/${plain}`;
      const opt = new CLASSES[rule](plain ? { lr: hyper.lr, regularize: [] } : hyper);
      const x = tf.variable(tf.tensor(init, c.shape), true, name);
      for (const g of gradients(9, c.rows, c.d, 25)) {
        ref.step(g);
        tf.tidy(() => opt.applyGradients([{ name, tensor: tf.tensor(g, c.shape) }]));
      }
      const a = new Uint32Array((x.dataSync() as Float32Array).slice().buffer), b = new Uint32Array(ref.weights().buffer);
      assert.deepEqual(a, b, `${rule} ${plain ? "plain" : "group"}: float32 bits differ`);
      ref.dispose();
      opt.dispose();
      x.dispose();
    }
  }
});

/** Trains two fresh variables (from the same start) with two optimizers on the same gradients; returns the largest relative error. */
function trajectories(
  ours: GroupOptimizer, theirs: tf.Optimizer, steps: number, onStep?: (t: number) => void,
): { rel: number; moved: number } {
  const r = rng(31);
  const shapes: [number, number][] = [[8, 5], [5, 1]];
  const inits = shapes.map(([a, b]) => Float32Array.from({ length: a * b }, () => r() * 2 - 1));
  const id = `${ours.getClassName()}-${theirs.getClassName()}-${Math.floor(r() * 1e9)}`;
  const xs = inits.map((v, i) => tf.variable(tf.tensor2d(v, shapes[i]), true, `${id}/ours${i}`));
  const ys = inits.map((v, i) => tf.variable(tf.tensor2d(v, shapes[i]), true, `${id}/theirs${i}`));
  let rel = 0, moved = 0;
  for (let t = 1; t <= steps; t++) {
    onStep?.(t);
    tf.tidy(() => {
      const gs = shapes.map(([a, b]) => tf.tensor2d(Float32Array.from({ length: a * b }, () => r() * 2 - 1), [a, b]));
      ours.applyGradients(Object.fromEntries(xs.map((x, i) => [x.name, gs[i]])));
      theirs.applyGradients(ys.map((y, i) => ({ name: y.name, tensor: gs[i] })));
    });
    xs.forEach((x, i) => {
      const a = x.dataSync(), b = ys[i].dataSync();
      let num = 0, den = 0, dist = 0;
      for (let j = 0; j < a.length; j++) {
        num = Math.max(num, Math.abs(a[j] - b[j]));
        den = Math.max(den, Math.abs(b[j]));
        dist = Math.max(dist, Math.abs(b[j] - inits[i][j]));
      }
      rel = Math.max(rel, num / den);
      moved = Math.max(moved, dist);
    });
  }
  for (const v of [...xs, ...ys]) v.dispose();
  ours.dispose();
  theirs.dispose();
  return { rel, moved };
}

test("with zero regularisers each optimizer follows tfjs's built-in optimizer of its family", (t) => {
  const eps = tf.backend().epsilon(); // 1e-7 on float32 backends: tfjs's default Adam epsilon and Adagrad's epsilon
  const cases: [string, () => GroupOptimizer, () => tf.Optimizer, ((t: number) => void) | undefined][] = [];
  for (const regularize of [undefined, [] as string[]]) {
    const form = regularize ? "plain" : "group";
    cases.push(
      [`GroupAdam (${form}) = tf.train.adam`, () => new GroupAdam({ lr: 0.01, beta1: 0.8, beta2: 0.99, epsilon: eps, regularize }), () => tf.train.adam(0.01, 0.8, 0.99, eps), undefined],
      // tfjs's Adagrad: accumulator from initialAccumulatorValue (0.1), x -= lr g / sqrt(acc + backend epsilon).
      // Here V_0 = epsilon + initialAccumulator inside the root: the same quantity.
      [`GroupAdagrad (${form}) = tf.train.adagrad`, () => new GroupAdagrad({ lr: 0.05, initialAccumulator: 0.1, epsilon: eps, regularize }), () => tf.train.adagrad(0.05, 0.1), undefined],
      [`GroupMomentum (${form}) = tf.train.momentum`, () => new GroupMomentum({ lr: 0.01, momentum: 0.7, regularize }), () => tf.train.momentum(0.01, 0.7), undefined],
      [`GroupMomentum momentum 0 (${form}) = tf.train.sgd`, () => new GroupMomentum({ lr: 0.05, momentum: 0, regularize }), () => tf.train.sgd(0.05), undefined],
    );
    // GroupSGD's step is alpha/sqrt(t): tf.train.sgd with its learning rate set to that each step.
    const sgd = tf.train.sgd(0.1);
    cases.push([`GroupSGD (${form}) = tf.train.sgd at lr/sqrt(t)`, () => new GroupSGD({ lr: 0.1, regularize }), () => sgd, (s) => sgd.setLearningRate(0.1 / Math.sqrt(s))]);
  }
  for (const [what, ours, theirs, onStep] of cases) {
    const { rel, moved } = trajectories(ours(), theirs(), 40, onStep);
    t.diagnostic(`${what}: max relative difference ${rel.toExponential(2)} (weights moved up to ${moved.toFixed(3)})`);
    assert.ok(moved > 0.05, `${what}: the weights barely moved`);
    assert.ok(rel <= 2e-6, `${what}: relative difference ${rel}`);
  }
});

test("the same comparison fails when a convention is mapped wrongly (the check can fail)", () => {
  // Adagrad's initial accumulator left at 0 instead of tfjs's 0.1.
  const a = trajectories(new GroupAdagrad({ lr: 0.05, epsilon: 1e-7 }), tf.train.adagrad(0.05, 0.1), 10);
  assert.ok(a.rel > 1e-3, `adagrad accumulator: ${a.rel}`);
  // GroupSGD's alpha/sqrt(t) step against tfjs's constant step.
  const b = trajectories(new GroupSGD({ lr: 0.1 }), tf.train.sgd(0.1), 10);
  assert.ok(b.rel > 1e-3, `sgd step: ${b.rel}`);
});

test("variables left out of a step keep their state, and a changed learning rate is exact: equal to sparsectr's lazy table rows bit for bit", () => {
  withLaneSum(() => {
    for (const rule of RULES) {
      const hyper = { ...HYPER[rule], l21: L21[rule].raw / 3 };
      const d = 5, ids = [0, 1, 2, 3, 4, 5];
      // Each table row is one tfjs variable [1, d] (one group); the table's bias
      // corrections use its global step, as the tfjs optimizer's do.
      const table = createOptimizer(`group-${rule}`, hyper).table({ rowLength: d, seed: 3, init: { uniform: [-0.3, 0.3] } });
      const init = table.gather(ids);
      const opt = new CLASSES[rule](hyper);
      const xs = ids.map((i) => tf.variable(tf.tensor2d(init.subarray(i * d, i * d + d), [1, d]), true, `lazy/${rule}/${i}`));
      const r = rng(77);
      let zeroSeen = 0;
      for (let t = 1; t <= 40; t++) {
        const present = ids.filter(() => r() < 0.6);
        const g = Float32Array.from({ length: present.length * d }, (_, j) => (present[Math.floor(j / d)] % 2 === 0 ? 0.05 : 1) * (r() * 2 - 1 + 0.3));
        const lr = (hyper.lr as number) * (1 + 0.5 * Math.sin(t));
        table.step(present, g, { lr });
        opt.learningRate = lr;
        tf.tidy(() => opt.applyGradients(ids.map((i) => {
          const k = present.indexOf(i);
          // Absent variables get a null gradient, as minimize passes for variables without one.
          return { name: xs[i].name, tensor: (k < 0 ? null : tf.tensor2d(g.subarray(k * d, k * d + d), [1, d])) as tf.Tensor };
        })));
        const want = new Uint32Array(table.gather(ids).buffer);
        const got = new Uint32Array(Float32Array.from(xs.flatMap((x) => [...x.dataSync()])).buffer);
        assert.deepEqual(got, want, `${rule} step ${t}: weights differ`);
        zeroSeen += table.zeroRows;
      }
      assert.ok(zeroSeen > 0, `${rule}: no row was ever pruned`);
      opt.dispose();
      xs.forEach((x) => x.dispose());
    }
  });
});
