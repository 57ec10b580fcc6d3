// sparsectr/tfjs as a tfjs citizen: no tensor leaks, minimize and both
// applyGradients forms, getWeights/setWeights (named as tfjs's built-ins name
// their slots), getConfig/fromConfig through tfjs's serialization registry,
// and errors that leave everything untouched.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import {
  GroupAdagrad, GroupAdam, GroupAMSGrad, GroupMomentum, GroupSGD, SparseGroupFtrl, type GroupOptimizer, type RegularizeFilter,
} from "../../src/tfjs/index.js";
import { rng } from "../helpers/rng.js";

await tf.setBackend("cpu");
tf.enableProdMode(); // silences the "install tfjs-node" notice; changes no numerics

type Cls = new (o: { lr?: number; l1?: number; l21?: number; l2?: number; regularize?: RegularizeFilter; vectors?: "elements" | "group" }) => GroupOptimizer;
const CLASSES: [Cls, string[]][] = [
  [GroupSGD, []],
  [GroupMomentum, ["momentum"]],
  [GroupAdagrad, ["accumulator"]],
  [GroupAdam, ["m", "v"]],
  [GroupAMSGrad, ["m", "v", "vmax"]],
];
const REGS = { l1: 1e-3, l21: 0.05, l2: 1e-3 };

let unique = 0;
/**
 * A small linear model y = x w + b on fixed data with its mean squared error.
 * tfjs-core's Node build registers no kernel gradients (the union package
 * @tensorflow/tfjs and tfjs-node do), so the loss brings its own gradient
 * through tf.customGrad; minimize and variableGrads work as with any model.
 */
function model(seed: number) {
  const r = rng(seed);
  const id = `m${unique++}`;
  const w = tf.variable(tf.tensor2d(Float32Array.from({ length: 24 }, () => r() - 0.5), [6, 4]), true, `${id}/w`);
  const b = tf.variable(tf.zeros([4]), true, `${id}/b`);
  const xs = tf.tensor2d(Float32Array.from({ length: 32 * 6 }, () => r() * 2 - 1), [32, 6]);
  const ys = tf.tensor2d(Float32Array.from({ length: 32 * 4 }, () => r() * 2 - 1), [32, 4]);
  const mse = tf.customGrad((...args) => {
    const [wi, bi, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const res = tf.sub(tf.add(tf.matMul(xs, wi), bi), ys);
    save([res]);
    return {
      value: tf.mean(tf.square(res)),
      // d/dres of mean(res^2) = 2 res / size; then through x w + b.
      gradFunc: (dy, [rs]) => {
        const dres = tf.mul(rs, tf.div(tf.mul(dy, 2), rs.size));
        return [tf.matMul(xs, dres as tf.Tensor2D, true, false), tf.sum(dres, 0)];
      },
    };
  });
  const loss = (): tf.Scalar => mse(w, b) as tf.Scalar;
  const dispose = (): void => tf.dispose([w, b, xs, ys]);
  return { w, b, loss, dispose, vars: [w, b] };
}

test("no tensor leaks: minimize, applyGradients as a map and as an array keep tf.memory().numTensors constant; dispose frees every slot", () => {
  for (const [C, moments] of CLASSES) {
    for (const regularize of [undefined, [] as string[]]) {
      const m = model(1);
      const before = tf.memory().numTensors;
      const opt = new C({ lr: 0.01, ...REGS, regularize });
      opt.minimize(m.loss); // the first step creates the slot variables
      const slotsPerVar = moments.length + (regularize ? 0 : 2);
      assert.equal(tf.memory().numTensors - before, 2 * slotsPerVar, `${C.name}: slot variables`);
      const steady = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) {
        opt.minimize(m.loss, false, m.vars);
        const cost = opt.minimize(m.loss, true);
        cost?.dispose();
        const { grads, value } = tf.variableGrads(m.loss);
        opt.applyGradients(grads);
        opt.applyGradients(m.vars.map((v) => ({ name: v.name, tensor: grads[v.name] })));
        tf.dispose([value, grads]);
        assert.equal(tf.memory().numTensors, steady, `${C.name} ${regularize ? "plain" : "group"}: step ${i} leaks`);
      }
      assert.equal(opt.iterations, 21);
      opt.dispose();
      assert.equal(tf.memory().numTensors, before, `${C.name}: dispose leaves tensors`);
      m.dispose();
    }
  }
});

test("getWeights names every slot <variable>/<slot>; setWeights into a new optimizer continues the identical trajectory", async () => {
  for (const [C, moments] of CLASSES) {
    for (const regularize of [undefined, /\/w$/]) {
      const m = model(2);
      const opts = { lr: 0.01, ...REGS, regularize };
      const a = new C(opts);
      for (let i = 0; i < 8; i++) a.minimize(m.loss);
      const weights = await a.getWeights();
      const slots = (v: string, reg: boolean): string[] => [...moments, ...(reg ? ["z", "p"] : [])].map((s) => `${v}/${s}`);
      assert.deepEqual(weights.map((w) => w.name), ["iter", ...slots(m.w.name, true), ...slots(m.b.name, regularize === undefined)]);
      // Snapshot: the returned slots are live variables, and assign replaces their data.
      const snap = weights.map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) }));
      const x0 = m.vars.map((v) => tf.clone(v));
      for (let i = 0; i < 8; i++) a.minimize(m.loss);
      const aFinal = m.vars.map((v) => Float32Array.from(v.dataSync()));
      m.vars.forEach((v, i) => v.assign(x0[i]));
      const b = new C(opts);
      await b.setWeights(snap);
      assert.equal(b.iterations, 8);
      for (let i = 0; i < 8; i++) b.minimize(m.loss);
      m.vars.forEach((v, i) => assert.deepEqual(new Uint32Array(Float32Array.from(v.dataSync()).buffer), new Uint32Array(aFinal[i].buffer), `${C.name}: ${v.name} after restore`));
      tf.dispose([...snap.map((s) => s.tensor), ...x0]);
      a.dispose();
      b.dispose();
      m.dispose();
    }
  }
});

test("unregularised variables carry tfjs's own slot names: tf.train.adam's weights load into GroupAdam and continue its trajectory", async () => {
  const m = model(3);
  const eps = tf.backend().epsilon();
  const theirs = tf.train.adam(0.02, 0.9, 0.999, eps);
  for (let i = 0; i < 5; i++) theirs.minimize(m.loss);
  const saved = await theirs.getWeights();
  const ours = new GroupAdam({ lr: 0.02, epsilon: eps, regularize: [] });
  await ours.setWeights(saved);
  assert.deepEqual((await ours.getWeights()).map((w) => w.name).sort(), saved.map((w) => w.name).sort());
  const x0 = m.vars.map((v) => tf.clone(v));
  for (let i = 0; i < 5; i++) theirs.minimize(m.loss);
  const want = m.vars.map((v) => Float32Array.from(v.dataSync()));
  m.vars.forEach((v, i) => v.assign(x0[i]));
  for (let i = 0; i < 5; i++) ours.minimize(m.loss);
  m.vars.forEach((v, i) => {
    const got = v.dataSync();
    for (let j = 0; j < got.length; j++) assert.ok(Math.abs(got[j] - want[i][j]) <= 1e-6, `${v.name}[${j}]: ${got[j]} vs ${want[i][j]}`);
  });
  tf.dispose(x0);
  theirs.dispose();
  ours.dispose();
  m.dispose();
});

test("getConfig/fromConfig through tfjs's serialization registry restores every class", () => {
  const map = tf.serialization.SerializationMap.getMap().classNameMap;
  assert.equal(SparseGroupFtrl, GroupAdagrad);
  for (const [C] of CLASSES) {
    const name = (C as unknown as { className: string }).className;
    const entry = map[name];
    assert.ok(entry, `${name} is registered`);
    assert.equal(entry[0], C);
    const opt = new C({ lr: 0.03, ...REGS, regularize: ["dense_Dense1/kernel", "a%5F"], vectors: "group" });
    assert.equal(opt.getClassName(), name);
    const config = JSON.parse(JSON.stringify(opt.getConfig())) as tf.serialization.ConfigDict;
    const back = entry[1](entry[0], config) as GroupOptimizer;
    assert.ok(back instanceof C);
    assert.deepEqual(back.getConfig(), opt.getConfig());
    assert.deepEqual(back.regularize, ["dense_Dense1/kernel", "a%5F"]);
    assert.equal(back.vectors, "group");
    assert.deepEqual(back.hyper, opt.hyper);
    opt.learningRate = 0.5; // the config carries the current learning rate
    assert.equal((entry[1](entry[0], opt.getConfig()) as GroupOptimizer).learningRate, 0.5);
  }
});

/** tfjs-layers' loadTrainingConfig camel-cases keys and every string value containing "_" (its toCamelCase). */
function pythonicToTs(v: tf.serialization.ConfigDictValue): tf.serialization.ConfigDictValue {
  const camel = (s: string): string => (s.length <= 1 || !s.includes("_") ? s : s.replace(/[_]+(\w|$)/g, (_m, c: string) => c.toUpperCase()));
  if (typeof v === "string") return camel(v);
  if (Array.isArray(v)) return v.map(pythonicToTs);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [camel(k), pythonicToTs(x)]));
  return v;
}

test("a config survives tfjs-layers' name conversion, with a RegExp filter too, and gives the same trajectory", () => {
  assert.equal(pythonicToTs("dense_Dense1/kernel"), "denseDense1/kernel"); // what an unescaped name would become
  const m1 = model(4), m2 = model(4);
  const opt = new GroupAdam({ lr: 0.02, ...REGS, l21Norm: "scaled", regularize: /^m\d+_?\/w$/ });
  const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap[opt.getClassName()];
  const back = fromConfig(cls, pythonicToTs(opt.getConfig()) as tf.serialization.ConfigDict) as GroupAdam;
  assert.deepEqual(back.getConfig(), opt.getConfig());
  assert.equal(String(back.regularize), String(/^m\d+_?\/w$/));
  for (let i = 0; i < 10; i++) {
    opt.minimize(m1.loss);
    back.minimize(m2.loss);
  }
  assert.deepEqual(m1.w.dataSync(), m2.w.dataSync());
  assert.deepEqual(m1.b.dataSync(), m2.b.dataSync());
  opt.dispose();
  back.dispose();
  m1.dispose();
  m2.dispose();
});

test("a predicate filter works but cannot be serialized", () => {
  const opt = new GroupSGD({ regularize: (n) => n.endsWith("/w") });
  assert.throws(() => opt.getConfig(), /predicate cannot be serialized/);
});

test("bad options and calls throw naming the problem, and change nothing", async () => {
  assert.throws(() => new GroupAdam({ lr: -1 }), /lr = -1/);
  assert.throws(() => new GroupSGD({ beta1: 0.9 } as never), /unknown option "beta1"/);
  assert.throws(() => new GroupAdam({ rowStep: "per-row" } as never), /unknown option "rowStep"/);
  assert.throws(() => new GroupAdam({ vectors: "rows" } as never), /vectors/);
  assert.throws(() => new GroupAdam({ regularize: [1] } as never), /regularize/);
  assert.throws(() => new GroupAdam({ l21Norm: "l2" } as never), /l21Norm/);

  const m = model(5);
  const opt = new GroupAdam({ lr: 0.01, ...REGS });
  opt.minimize(m.loss);
  const w0 = Float32Array.from(m.w.dataSync());
  const before = await opt.getWeights();
  const snapshot = before.map((x) => Float32Array.from(x.tensor.dataSync()));
  const g = tf.onesLike(m.w);
  // An unknown variable after a good one: the good one must not have moved.
  assert.throws(() => opt.applyGradients({ [m.w.name]: g, nope: g }), /no variable named "nope"/);
  assert.throws(() => opt.applyGradients({ [m.w.name]: g, [m.b.name]: g }), /gradient of ".*\/b" has shape \[6,4\]/);
  assert.throws(() => opt.applyGradients([{ name: m.w.name, tensor: g }, { name: m.w.name, tensor: g }]), /two gradients/);
  await assert.rejects(opt.setWeights(before.slice(0, -1)), /expected \[m, v, z, p\]/);
  await assert.rejects(opt.setWeights(before.slice(1)), /first weight must be "iter"/);
  assert.deepEqual(m.w.dataSync(), w0);
  assert.equal(opt.iterations, 1);
  const after = await opt.getWeights();
  assert.deepEqual(after.map((x) => Float32Array.from(x.tensor.dataSync())), snapshot);
  assert.throws(() => { opt.learningRate = 0; }, /learningRate = 0/);
  g.dispose();
  opt.dispose();
  m.dispose();
});

test("the main entry point does not load tfjs: no module reachable from src/index imports @tensorflow", () => {
  const start = fileURLToPath(new URL("../../src/index.js", import.meta.url));
  const seen = new Set<string>(), todo = [start], external = new Set<string>();
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s*"([^"]+)"|(?:^|\n)\s*import\s*"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith(".")) todo.push(resolve(dirname(file), spec));
      else external.add(spec);
    }
  }
  assert.ok(seen.size > 20, `walked ${seen.size} modules`);
  assert.deepEqual([...external].filter((s) => s.startsWith("@tensorflow")), []);
  assert.ok(![...seen].some((f) => f.includes("/src/tfjs/")), "src/tfjs is not reachable from the main entry");
});
