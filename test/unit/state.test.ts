// Save, load, continue = never stopped, bit for bit; damaged states are refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOptimizer, DenseParam, OPTIMIZER_NAMES, SparseTable, writeFileAtomic } from "../../src/index.js";
import { randomArray, rng, sameBits } from "../helpers/rng.js";

test("dense: save, load, continue equals an uninterrupted run bit for bit (every optimizer)", () => {
  for (const name of OPTIMIZER_NAMES) {
    const h = name.startsWith("group-") ? { lr: 0.02, l1: 1e-3, l21: 1e-2, rowStep: "per-row" as const } : {};
    const rows = 5, d = 6, r = rng(3);
    const init = randomArray(r, rows * d);
    const grads = Array.from({ length: 40 }, () => randomArray(r, rows * d));
    const hess = Array.from({ length: 40 }, () => randomArray(r, rows * d));
    const opts = (t: number) => (name.endsWith("adahessian") ? { hessian: hess[t] } : {});
    const a = createOptimizer(name, h).dense(init.slice(), { rows, rowLength: d });
    let b = createOptimizer(name, h).dense(init.slice(), { rows, rowLength: d });
    for (let t = 0; t < 40; t++) {
      a.step(grads[t], opts(t));
      if (t === 17) {
        const saved = b.save();
        b.dispose();
        b = DenseParam.load(saved);
      }
      b.step(grads[t], opts(t));
    }
    assert.ok(sameBits(a.weights(), b.weights()), name);
    assert.equal(a.stepCount, b.stepCount);
    assert.equal(a.zeroRows, b.zeroRows);
    assert.deepEqual(a.save(), b.save(), `${name}: identical saved bytes`);
  }
});

test("table: save, load, continue equals an uninterrupted run bit for bit, including rows created after loading", () => {
  for (const name of ["group-adam", "group-adagrad", "ftrl", "adam", "group-amsgrad", "group-momentum"] as const) {
    const h = name.startsWith("group-") ? { lr: 0.02, l21: 3e-3 } : {};
    const d = 8, r = rng(name.length);
    const batches = Array.from({ length: 30 }, (_, t) => {
      const ids = Array.from({ length: 50 }, () => Math.floor(r() * r() * 40 * (t + 1)));
      return { ids, g: randomArray(r, ids.length * d) };
    });
    const a = createOptimizer(name, h).table({ rowLength: d, seed: 12 });
    let b = createOptimizer(name, h).table({ rowLength: d, seed: 12 });
    for (let t = 0; t < batches.length; t++) {
      a.step(batches[t].ids, batches[t].g);
      if (t === 11) b = SparseTable.load(b.save());
      b.step(batches[t].ids, batches[t].g);
    }
    assert.equal(a.size, b.size);
    assert.deepEqual(a.save(), b.save(), name);
    assert.deepEqual(a.ids(), b.ids());
  }
});

test("a damaged or truncated state is refused with a message naming the problem", () => {
  const p = createOptimizer("group-adam", { l21: 1e-3 }).dense(new Float32Array(12).fill(0.5), { rows: 3, rowLength: 4 });
  p.step(new Float32Array(12).fill(0.1));
  const good = p.save();
  const flipped = good.slice();
  flipped[good.length - 20] ^= 1;
  assert.throws(() => DenseParam.load(flipped), /checksum mismatch/);
  assert.throws(() => DenseParam.load(good.subarray(0, good.length - 9)), /checksum|too short|does not fit/);
  assert.throws(() => DenseParam.load(new Uint8Array(10)), /too short/);
  assert.throws(() => DenseParam.load(new TextEncoder().encode("not a state at all, just text....")), /bad magic/);
  const t = createOptimizer("adam").table({ rowLength: 2 });
  t.gather([1, 2]);
  assert.throws(() => DenseParam.load(t.save()), /is not dense/);
  assert.throws(() => SparseTable.load(good), /is not table/);
  // The original keeps working after failed loads.
  p.step(new Float32Array(12).fill(0.1));
  assert.equal(p.stepCount, 2);
});

test("writeFileAtomic replaces a file whole and leaves no temporary file behind", () => {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-"));
  try {
    const f = join(dir, "state.bin");
    writeFileSync(f, "old");
    writeFileAtomic(f, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...readFileSync(f)], [1, 2, 3]);
    assert.deepEqual(readdirSync(dir), ["state.bin"]);
    assert.throws(() => writeFileAtomic(join(dir, "missing", "x.bin"), new Uint8Array(1)), /ENOENT/);
    assert.deepEqual([...readFileSync(f)], [1, 2, 3]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
