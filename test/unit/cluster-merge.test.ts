// The merge rules of cluster training (src/cluster/merge.ts) and the write
// of merged records into a table (SparseTable.putRecords), without Redis.
// mergeRecord is checked against a float64 reference written here on random
// records and slot rules: sums stored + (pushed - base), decayed averages
// pushed + beta^n (stored - base), running maxima max(stored, pushed);
// counts summed, last step the later, the rest the pusher's; an unchanged
// store gives the pushed bytes bit for bit, even where |base| >> |pushed|.
// mergeDense adds each worker's change of the weights, pushed + (stored -
// base), and merges the moments by the rows' rule (the pushed floats bit for
// bit when stored == base), checked against the same float64 reference; two
// workers' steps of the dense Adam optimizer from one base merge into the
// moments of their steps run in sequence. Three workers' pushes merged one after another equal their
// updates run in sequence (no lost update). putRecords of a table's own
// records into a fresh table gives the kernel's weights bit for bit
// (Algorithm 1's closed form from z and the moments), and of perturbed
// records the closed form computed independently here, with the zero flags
// and zero-row counts following.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createOptimizer } from "../../src/index.js";
import { mergeDense, mergeRecord, SHARED_ROW_UPDATES, slotMerges, type SlotMerge } from "../../src/cluster/merge.js";
import { resolveHyperparams } from "../../src/optim/hyper.js";
import { H_ALPHA, H_COUNT, H_FLAGS, H_TAU, HEADER_BYTES } from "../../src/kernels/layout.js";
import type { SparseTable } from "../../src/optim/table.js";
import { rng, sameBits } from "../helpers/rng.js";

const f = Math.fround;
const SUM: SlotMerge = { beta: 1, first: 0 }, MAX: SlotMerge = { beta: "max", first: 0 };

/** Random slot rules: sums (one with a first-update term), decayed averages, maxima. */
function randomSlots(r: () => number): SlotMerge[] {
  const slots: SlotMerge[] = Array.from({ length: 1 + Math.floor(r() * 4) }, () => [SUM, MAX, { beta: 1, first: f(0.1) }, { beta: 0.9, first: 0 }, { beta: 0.999, first: 0 }][Math.floor(r() * 5)]);
  // Half the time a leading sum is z taking a decayed slot's carry.
  const m = slots.findIndex((x) => typeof x.beta === "number" && x.beta < 1);
  if (slots[0].beta === 1 && m > 0 && r() < 0.5) slots[0] = { ...slots[0], carry: m };
  return slots;
}

/** A random float: magnitudes 1e-3 .. 1e3, either sign. */
const rf = (r: () => number) => f((r() * 2 - 1) * 10 ** (r() * 6 - 3));

/** A random record of d weights and the slots' floats; pushed follows base when given (later step, more updates, no lower maxima). */
function randomRecord(r: () => number, d: number, slots: SlotMerge[], base?: Buffer): Buffer {
  const b = Buffer.alloc(HEADER_BYTES + 4 * d * (1 + slots.length));
  b.writeUInt32LE((base?.readUInt32LE(H_TAU) ?? 0) + Math.floor(r() * 1e5), H_TAU);
  b.writeFloatLE(r(), H_ALPHA);
  b.writeUInt32LE((base?.readUInt32LE(H_COUNT) ?? 0) + Math.floor(r() * 20), H_COUNT);
  b.writeUInt32LE(r() < 0.5 ? 1 : 0, H_FLAGS);
  for (let p = HEADER_BYTES; p < b.length; p += 4) b.writeFloatLE(rf(r), p);
  slots.forEach((m, k) => {
    for (let j = 0, p = HEADER_BYTES + 4 * d * (1 + k); base && m.beta === "max" && j < d; j++, p += 4) b.writeFloatLE(Math.max(base.readFloatLE(p), b.readFloatLE(p)), p);
  });
  return b;
}

/** One merged float in float64 and its scale (for the tolerance), from the rule's statement. */
function mergedValue(m: SlotMerge, g: number, l: number, b: number | undefined, n: number): [number, number] {
  if (m.beta === "max") return [Math.max(g, l), 0];
  const c = m.beta === 1 ? 1 : m.beta ** n;
  return b === undefined ? [l + c * g - m.first, Math.abs(l) + Math.abs(c * g) + m.first] : [l + c * (g - b), Math.abs(l) + Math.abs(c * g) + Math.abs(c * b)];
}

function checkRecord(got: Buffer, stored: Buffer, pushed: Buffer, base: Buffer | undefined, d: number, slots: SlotMerge[], what: string): void {
  const n = pushed.readUInt32LE(H_COUNT) - (base?.readUInt32LE(H_COUNT) ?? 0);
  assert.equal(got.readUInt32LE(H_TAU), Math.max(stored.readUInt32LE(H_TAU), pushed.readUInt32LE(H_TAU)), `${what}: last step`);
  assert.equal(got.readUInt32LE(H_COUNT), stored.readUInt32LE(H_COUNT) + n, `${what}: updates`);
  assert.deepEqual(got.subarray(H_ALPHA, H_COUNT), pushed.subarray(H_ALPHA, H_COUNT), `${what}: learning rate`);
  assert.deepEqual(got.subarray(H_FLAGS, HEADER_BYTES + 4 * d), pushed.subarray(H_FLAGS, HEADER_BYTES + 4 * d), `${what}: flags and weights`);
  slots.forEach((m, k) => {
    for (let j = 0, p = HEADER_BYTES + 4 * d * (1 + k); j < d; j++, p += 4) {
      let [want, scale] = mergedValue(m, stored.readFloatLE(p), pushed.readFloatLE(p), base?.readFloatLE(p), n);
      if (m.carry !== undefined && n > 0) {
        // z's carry: sum over the pusher's updates i = 1..n of beta^i (stored m - base m).
        const beta = slots[m.carry].beta as number, q = HEADER_BYTES + 4 * d * (1 + m.carry) + 4 * j;
        let c = 0;
        for (let i = 1; i <= n; i++) c += beta ** i;
        const dm = stored.readFloatLE(q) - (base?.readFloatLE(q) ?? 0);
        want += c * dm;
        scale += Math.abs(c) * (Math.abs(stored.readFloatLE(q)) + Math.abs(base?.readFloatLE(q) ?? 0));
      }
      assert.ok(Math.abs(got.readFloatLE(p) - want) <= 1e-6 * scale + 1e-7 * Math.abs(want), `${what}: slot ${k} [${j}] (beta ${m.beta}) = ${got.readFloatLE(p)}, want ${want}`);
    }
  });
}

test("mergeRecord (the sequential rule alone): sums, decayed averages and maxima of the slots, counts summed, later step, the pusher's rate, flags and weights", () => {
  const r = rng(1);
  for (let trial = 0; trial < 2000; trial++) {
    const d = 1 + Math.floor(r() * 8), slots = randomSlots(r);
    const base = randomRecord(r, d, slots), stored = randomRecord(r, d, slots, base), pushed = randomRecord(r, d, slots, base);
    checkRecord(mergeRecord(stored, pushed, base, d, slots, Infinity), stored, pushed, base, d, slots, `trial ${trial}`);
    // No base: the row was new to the pusher.
    checkRecord(mergeRecord(stored, pushed, undefined, d, slots, Infinity), stored, pushed, undefined, d, slots, `trial ${trial}, no base`);
    // No stored row: the pushed record.
    assert.deepEqual(mergeRecord(null, pushed, base, d, slots), pushed);
    assert.deepEqual(mergeRecord(undefined, pushed, undefined, d, slots), pushed);
    // Nobody else wrote the row: the pushed record bit for bit.
    assert.deepEqual(mergeRecord(Buffer.from(base), pushed, base, d, slots), pushed, `trial ${trial}, stored == base`);
  }
  assert.throws(() => mergeRecord(Buffer.alloc(32), Buffer.alloc(36), undefined, 1, [SUM]), RangeError);
  assert.throws(() => mergeRecord(Buffer.alloc(28), Buffer.alloc(28), undefined, 1, [SUM]), RangeError);
});

test("mergeRecord blends a row both the pusher and others updated often towards the update-weighted average of their changes", () => {
  const r = rng(11);
  for (let trial = 0; trial < 1000; trial++) {
    const d = 1 + Math.floor(r() * 6), slots = randomSlots(r), C = [1, 8, 32][trial % 3];
    const base = randomRecord(r, d, slots), stored = randomRecord(r, d, slots, base), pushed = randomRecord(r, d, slots, base);
    const useBase = trial % 4 !== 0;
    const got = mergeRecord(stored, pushed, useBase ? base : undefined, d, slots, C);
    const seq = mergeRecord(stored, pushed, useBase ? base : undefined, d, slots, Infinity);
    const bc = useBase ? base.readUInt32LE(H_COUNT) : 0;
    const k = stored.readUInt32LE(H_COUNT) - bc, n = pushed.readUInt32LE(H_COUNT) - bc;
    const a = k === 0 ? 1 : C / (C + Math.min(k, n));
    assert.deepEqual(got.subarray(0, HEADER_BYTES + 4 * d), seq.subarray(0, HEADER_BYTES + 4 * d), "header and weights as the sequential rule");
    slots.forEach((m, s) => {
      for (let j = 0, p = HEADER_BYTES + 4 * d * (1 + s); j < d; j++, p += 4) {
        const g = stored.readFloatLE(p), l = pushed.readFloatLE(p), b = useBase ? base.readFloatLE(p) : 0;
        const avg = b + (k * (g - b) + n * (l - b)) / Math.max(k + n, 1);
        const want = m.beta === "max" || a === 1 ? seq.readFloatLE(p) : a * seq.readFloatLE(p) + (1 - a) * avg;
        const scale = Math.abs(g) + Math.abs(l) + Math.abs(b) + Math.abs(seq.readFloatLE(p));
        assert.ok(Math.abs(got.readFloatLE(p) - want) <= 2e-6 * scale, `trial ${trial}, slot ${s} [${j}]: ${got.readFloatLE(p)}, want ${want} (a ${a})`);
      }
    });
  }
  // Nobody else wrote the row: the pushed record bit for bit, whatever C.
  const base = randomRecord(r, 4, [SUM]), pushed = randomRecord(r, 4, [SUM], base);
  assert.deepEqual(mergeRecord(Buffer.from(base), pushed, base, 4, [SUM], 1), pushed);
});

/** A random dense parameter's floats: n floats of random magnitudes and signs. */
const randomDense = (r: () => number, n: number) => Float32Array.from({ length: n }, () => rf(r));

/** Dense merge layouts: rows x d weights, then per row each slot's d floats. */
const denseHow = (rows: number, d: number, slots: SlotMerge[], n: number) => ({ rows, d, slots, n });

test("mergeDense: weights pushed + (stored - base); each slot by its rule (sum, pushed + beta^n (stored - base), max); stored == base gives the pushed floats bit for bit", () => {
  const r = rng(2);
  for (let trial = 0; trial < 500; trial++) {
    const rows = 1 + Math.floor(r() * 4), d = 1 + Math.floor(r() * 5), slots = randomSlots(r).map(({ beta, first }) => ({ beta, first: 0 * first }));
    const n = 1 + Math.floor(r() * 20), len = rows * d * (1 + slots.length), how = denseHow(rows, d, slots, n);
    const stored = randomDense(r, len), pushed = randomDense(r, len), base = randomDense(r, len);
    const got = mergeDense(stored, pushed, base, how);
    assert.equal(got.length, len);
    for (let i = 0; i < len; i++) {
      const slot = i < rows * d ? SUM : slots[Math.floor(((i - rows * d) % (d * slots.length)) / d)];
      const want = slot.beta === "max" ? Math.max(stored[i], pushed[i]) : pushed[i] + (slot.beta ** n) * (stored[i] - base[i]);
      const scale = Math.abs(pushed[i]) + Math.abs(stored[i]) + Math.abs(base[i]);
      assert.ok(Math.abs(got[i] - want) <= 2 ** -24 * Math.abs(want) + 1e-15 * scale, `trial ${trial} [${i}] = ${got[i]}, want ${want}`);
    }
    // (a running max never falls below its base)
    const grown = pushed.map((v, i) => (i >= rows * d && slots[Math.floor(((i - rows * d) % (d * slots.length)) / d)].beta === "max" ? Math.max(v, base[i]) : v));
    assert.ok(sameBits(mergeDense(base.slice(), grown, base, how), grown), `trial ${trial}: stored == base`);
  }
});

test("mergeDense: no stored value counts as the base (all workers start from the same weights); mismatched lengths or layouts throw", () => {
  const r = rng(5), how = denseHow(17, 1, [], 3);
  const pushed = randomDense(r, 17), base = randomDense(r, 17);
  const got = mergeDense(undefined, pushed, base, how);
  assert.ok(sameBits(got, pushed), "the pushed floats");
  assert.notEqual(got, pushed, "a copy");
  const three = denseHow(3, 1, [], 1);
  assert.throws(() => mergeDense(new Float32Array(2), new Float32Array(3), new Float32Array(3), three), RangeError);
  assert.throws(() => mergeDense(new Float32Array(3), new Float32Array(3), new Float32Array(2), three), RangeError);
  assert.throws(() => mergeDense(new Float32Array(3), new Float32Array(2), new Float32Array(3), three), RangeError);
  assert.throws(() => mergeDense(new Float32Array(3), new Float32Array(3), new Float32Array(3), denseHow(1, 1, [SUM], 1)), /not 1 x 1 weights and 1 state slots/);
});

test("mergeDense: two workers' Adam steps from one base merge into the moments of their steps run in sequence (the dense optimizer itself, its update counts as n)", () => {
  const rows = 3, d = 4, h = resolveHyperparams("adam", { lr: 0.01 });
  const r = rng(9), init = randomDense(r, rows * d);
  const param = () => createOptimizer("adam", { lr: 0.01 }).dense(init, { rows, rowLength: d });
  const grads = (k: number) => Array.from({ length: k }, () => Float32Array.from({ length: rows * d }, () => r() * 2 - 1));
  // Both workers start from the same state, a few steps in.
  const warm = grads(3), ga = grads(5), gb = grads(7);
  const a = param(), b = param(), seq = param();
  for (const g of warm) for (const p of [a, b, seq]) p.step(g);
  const base = a.mergeable(), baseUpdates = a.updates;
  for (const g of ga) a.step(g);
  for (const g of gb) b.step(g);
  for (const g of [...gb, ...ga]) seq.step(g);
  assert.equal(a.updates - baseUpdates, ga.length, "updates counts the steps");
  const how = (p: typeof a) => denseHow(rows, d, slotMerges("adam", h, false), p.updates - baseUpdates);
  // b merges first into the store holding the base, then a.
  const afterB = mergeDense(base, b.mergeable(), base, how(b));
  const merged = mergeDense(afterB, a.mergeable(), base, how(a)), want = seq.mergeable();
  for (let i = rows * d; i < want.length; i++) {
    assert.ok(Math.abs(merged[i] - want[i]) <= 1e-6 * (1e-3 + Math.abs(want[i])), `moment float ${i - rows * d}: ${merged[i]}, the sequence's ${want[i]}`);
  }
  for (const p of [a, b, seq]) p.dispose();
});

test("an unchanged store gives the pushed row bit for bit even when the base is 1e9 times larger (a z crossing zero)", () => {
  for (const m of [SUM, { beta: 0.9, first: 0 }]) {
    const base = Buffer.alloc(HEADER_BYTES + 8), pushed = Buffer.alloc(HEADER_BYTES + 8);
    base.writeFloatLE(0.5, HEADER_BYTES + 4);
    pushed.writeFloatLE(3e-10, HEADER_BYTES + 4);
    pushed.writeUInt32LE(3, H_COUNT);
    assert.deepEqual(mergeRecord(Buffer.from(base), pushed, base, 1, [m]), pushed);
  }
});

test("an unchanged store gives the pushed dense floats bit for bit with one worker even when the base is 1e9 times larger", () => {
  for (const slots of [[], [{ beta: 0.9, first: 0 }]]) {
    const how = denseHow(1, 1, slots, 2), pad = (v: number[]) => Float32Array.from(slots.length ? [...v, ...v] : v);
    assert.ok(sameBits(mergeDense(pad([0.5]), pad([3e-10]), pad([0.5]), how), pad([3e-10])));
  }
  assert.ok(sameBits(mergeDense(Float32Array.of(0.5, -0.5), Float32Array.of(3e-10, -3e-10), Float32Array.of(0.5, -0.5), denseHow(2, 1, [], 1)), Float32Array.of(3e-10, -3e-10)));
});

test("slotMerges: z and Adagrad's V summed (V's initial accumulator once; z with the first moment's carry), m and v decayed by their beta, AMSGrad's vmax a maximum", () => {
  const h = (name: Parameters<typeof resolveHyperparams>[0]) => resolveHyperparams(name, { momentum: 0.8 });
  assert.deepEqual(slotMerges("group-sgd", h("group-sgd"), true), [SUM]);
  assert.deepEqual(slotMerges("group-momentum", h("group-momentum"), true), [{ ...SUM, carry: 1 }, { beta: 0.8, first: 0 }]);
  assert.deepEqual(slotMerges("group-adagrad", h("group-adagrad"), true), [SUM, { beta: 1, first: f(1e-10) }]);
  const primal = (v: number) => ({ v, beta2: 0.999, eps: 1e-8, l1: 0, l21: 0, l2: 0 });
  assert.deepEqual(slotMerges("group-adam", h("group-adam"), true), [{ ...SUM, carry: 1, primal: primal(2) }, { beta: 0.9, first: 0 }, { beta: 0.999, first: 0 }]);
  assert.deepEqual(slotMerges("group-amsgrad", h("group-amsgrad"), true), [{ ...SUM, carry: 1, primal: primal(3) }, { beta: 0.9, first: 0 }, { beta: 0.999, first: 0 }, MAX]);
  assert.deepEqual(slotMerges("adam", h("adam"), false), [{ beta: 0.9, first: 0 }, { beta: 0.999, first: 0 }]);
});

test("three workers from one base, merged one after another: their updates as if run in sequence (no lost update)", () => {
  const r = rng(3);
  for (let trial = 0; trial < 300; trial++) {
    // (z's carry of the first moment: the split-chain test below)
    const d = 1 + Math.floor(r() * 8), slots = randomSlots(r).map((x) => ({ beta: x.beta, first: x.first })), base = randomRecord(r, d, slots);
    // Each worker's push: n updates since the base; a decayed slot is beta^n base + its fresh part.
    const work = [0, 1, 2].map(() => {
      const n = 1 + Math.floor(r() * 5), p = Buffer.from(base), fresh = Float32Array.from({ length: d * slots.length }, () => r() * 2 - 1);
      slots.forEach((m, k) => {
        for (let j = 0, q = HEADER_BYTES + 4 * d * (1 + k); j < d; j++, q += 4) {
          const b = base.readFloatLE(q), x = fresh[k * d + j];
          p.writeFloatLE(m.beta === "max" ? Math.max(b, x) : m.beta === 1 ? b + x : m.beta ** n * b + x, q);
        }
      });
      p.writeUInt32LE(base.readUInt32LE(H_COUNT) + n, H_COUNT);
      return { n, p, fresh };
    });
    let merged: Buffer = Buffer.from(base);
    for (const { p } of work) merged = mergeRecord(merged, p, base, d, slots, Infinity);
    slots.forEach((m, k) => {
      for (let j = 0, q = HEADER_BYTES + 4 * d * (1 + k); j < d; j++, q += 4) {
        // Sequential: sums add every change, decayed averages decay the earlier state by the later updates, maxima take the max.
        let want = base.readFloatLE(q);
        for (const { n, fresh } of work) {
          const x = fresh[k * d + j];
          want = m.beta === "max" ? Math.max(want, x) : m.beta === 1 ? want + x : m.beta ** n * want + x;
        }
        const got = merged.readFloatLE(q);
        assert.ok(Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want)) + 1e-6 * Math.abs(base.readFloatLE(q)), `trial ${trial} slot ${k} [${j}] (beta ${m.beta}): ${got}, want ${want}`);
      }
    });
    assert.equal(merged.readUInt32LE(H_COUNT), base.readUInt32LE(H_COUNT) + work.reduce((s, w) => s + w.n, 0));
  }
});

test("split update chains: z and m of workers' chains (m = beta m + (1 - beta) g or m = beta m + g, z += m each update) merged one after another equal one chain run in sequence", () => {
  const r = rng(5);
  for (let trial = 0; trial < 300; trial++) {
    const dd = 1 + Math.floor(r() * 4), beta = [0.9, 0.8, 0.99][trial % 3], adam = trial % 2 === 0;
    const slots: SlotMerge[] = [{ beta: 1, first: 0, carry: 1 }, { beta, first: 0 }];
    const rec = (z: number[], m: number[], count: number): Buffer => {
      const b = Buffer.alloc(HEADER_BYTES + 4 * dd * 3);
      b.writeUInt32LE(count, H_COUNT);
      for (let j = 0; j < dd; j++) {
        b.writeFloatLE(z[j], HEADER_BYTES + 4 * (dd + j));
        b.writeFloatLE(m[j], HEADER_BYTES + 4 * (2 * dd + j));
      }
      return b;
    };
    // A chain of updates in float64 from (z, m).
    const chain = (z: number[], m: number[], gs: number[][]): { z: number[]; m: number[] } => {
      z = [...z];
      m = [...m];
      for (const g of gs) {
        for (let j = 0; j < dd; j++) {
          m[j] = beta * m[j] + (adam ? 1 - beta : 1) * g[j];
          z[j] += m[j];
        }
      }
      return { z, m };
    };
    const z0 = Array.from({ length: dd }, () => r() * 2 - 1), m0 = Array.from({ length: dd }, () => r() * 0.2 - 0.1), c0 = Math.floor(r() * 50);
    const base = rec(z0, m0, c0);
    const works = [0, 1, 2].slice(0, 2 + (trial % 2)).map(() => Array.from({ length: 1 + Math.floor(r() * 6) }, () => Array.from({ length: dd }, () => r() * 2 - 1)));
    // Each worker's chain from the base; merged one after another.
    let merged: Buffer = Buffer.from(base);
    for (const gs of works) {
      const own = chain(z0, m0, gs);
      merged = mergeRecord(merged, rec(own.z, own.m, c0 + gs.length), base, dd, slots, Infinity);
    }
    // One chain: every worker's updates in sequence.
    const want = chain(z0, m0, works.flat());
    for (let j = 0; j < dd; j++) {
      const gz = merged.readFloatLE(HEADER_BYTES + 4 * (dd + j)), gm = merged.readFloatLE(HEADER_BYTES + 4 * (2 * dd + j));
      assert.ok(Math.abs(gm - want.m[j]) <= 1e-5 * (1 + Math.abs(want.m[j])), `trial ${trial} m[${j}] ${gm}, want ${want.m[j]}`);
      assert.ok(Math.abs(gz - want.z[j]) <= 1e-5 * (1 + Math.abs(want.z[j])), `trial ${trial} z[${j}] ${gz}, want ${want.z[j]}`);
    }
  }
});

const d = 8, steps = 40;
const hyper = { lr: 0.05, l1: 0.05, l21: 0.05, l2: 0.01 };
const cases = {
  "group-sgd": { slots: 0, P: (tau: number, a: number) => Math.sqrt(tau) / a },
  "group-momentum": { slots: 1, P: (_t: number, a: number) => 1 / a },
  "group-adagrad": { slots: 1, P: (_t: number, a: number, s: number[]) => Math.sqrt(s[0]) / a },
  "group-adam": { slots: 2, P: (tau: number, a: number, s: number[]) => (Math.sqrt(s[1] / (1 - 0.999 ** tau)) + 1e-8) / a },
  "group-amsgrad": { slots: 3, P: (tau: number, a: number, s: number[]) => (Math.sqrt(s[2] / (1 - 0.999 ** tau)) + 1e-8) / a },
} as const;

/** Steps a table `steps` times on random ids from [lo, lo + 200), a quarter of the rows with small gradients. */
function train(t: SparseTable, seed: number, lo: number): void {
  const r = rng(seed);
  for (let s = 0; s < steps; s++) {
    const ids = BigUint64Array.from({ length: 64 }, () => BigInt(lo + Math.floor(r() * 200)));
    t.gatherBatch(ids);
    t.stepBatch(Float32Array.from({ length: 64 * d }, (_, i) => (r() * 2 - 1) * (ids[Math.floor(i / d)] % 4n === 0n ? 0.02 : 1)));
  }
}

function zeroFlags(recs: Uint8Array, rb: number): number {
  let n = 0;
  for (let p = 0; p < recs.length; p += rb) n += recs[p + H_FLAGS] & 1;
  return n;
}

for (const [name, spec] of Object.entries(cases)) {
  test(`putRecords (${name}): a table's records settle to its weights bit for bit; perturbed z gives the closed form`, () => {
    for (const backend of ["wasm", "ts"] as const) {
      // The ts backend's fresh tables start with zero rows (their creation counts them; putRecords uncounts them).
      const make = (init?: "zeros") => createOptimizer(name as keyof typeof cases, hyper, { backend }).table({ rowLength: d, seed: 7, init });
      const src = make();
      train(src, 11, 0);
      const ids = src.mutate().ids(), n = ids.length, recs = src.mutate().records(0, n), rb = src.recordBytes;
      assert.equal(rb, HEADER_BYTES + 4 * d * (2 + spec.slots));
      const zeros = zeroFlags(recs, rb);
      assert.ok(zeros > 0 && zeros < n, `${name}/${backend}: some rows zero, some live (${zeros} of ${n})`);
      // A fresh table at the same step count, trained on other ids.
      const dst = make(backend === "ts" ? "zeros" : undefined);
      train(dst, 12, 1_000_000);
      const before = dst.zeroRows, size0 = dst.size;
      // The weights and zero flags of each record are cleared first: putRecords must recompute them.
      const wiped = recs.slice();
      for (let p = 0; p < wiped.length; p += rb) {
        wiped.fill(0, p + HEADER_BYTES, p + HEADER_BYTES + 4 * d);
        wiped[p + H_FLAGS] ^= 1;
      }
      dst.putRecords(ids, wiped);
      assert.equal(dst.size, size0 + n);
      assert.deepEqual(dst.mutate().records(size0, n), recs, `${name}/${backend}: records (weights, flags) bit for bit`);
      assert.equal(dst.zeroRows, before + zeros, `${name}/${backend}: zero rows`);
      assert.equal(dst.liveRows, dst.size - before - zeros);
      // Perturbed z: halved, zeroed (the row must become exactly zero), or kept.
      const pert = recs.slice(), zf = new Float32Array(pert.buffer, pert.byteOffset, pert.length >>> 2), w = rb >>> 2;
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) zf[i * w + (HEADER_BYTES >>> 2) + d + j] *= [0.5, 0, 1][i % 3];
      dst.putRecords(ids, pert);
      const got = dst.mutate().records(size0, n), gf = new Float32Array(got.buffer, got.byteOffset, got.length >>> 2);
      const gu = new Uint32Array(got.buffer, got.byteOffset, got.length >>> 2);
      let wantZeros = 0;
      for (let i = 0; i < n; i++) {
        const o = i * w, x = o + (HEADER_BYTES >>> 2), z = x + d, tau = gu[o + H_TAU / 4], alpha = gf[o + H_ALPHA / 4];
        const s = new Float64Array(d), den = new Float64Array(d);
        for (let j = 0; j < d; j++) {
          const zj = gf[z + j];
          s[j] = Math.abs(zj) > hyper.l1 ? Math.sign(zj) * hyper.l1 - zj : 0;
          den[j] = spec.P(tau, alpha, Array.from({ length: spec.slots }, (_, k) => gf[z + d + k * d + j])) + 2 * hyper.l2;
        }
        const norm = Math.hypot(...s), k = Math.max(1 - Math.sqrt(d) * hyper.l21 / norm, 0) || 0;
        const zero = k === 0;
        if (k > 0 && k < 1e-4) continue; // at the threshold float32 may decide either way
        for (let j = 0; j < d; j++) {
          const want = k * s[j] / den[j], scale = Math.abs(s[j] / den[j]);
          assert.ok(Math.abs(gf[x + j] - want) <= 1e-5 * Math.abs(want) + 1e-6 * scale, `${name}/${backend} row ${i} x[${j}] = ${gf[x + j]}, the closed form gives ${want}`);
          if (zero) assert.ok(Object.is(gf[x + j], 0), `${name}/${backend} row ${i}: exactly +0`);
        }
        if (i % 3 === 1) assert.ok(zero, `${name}/${backend} row ${i}: z = 0 makes the row zero`);
        assert.equal(gu[o + H_FLAGS / 4] & 1, zero ? 1 : 0, `${name}/${backend} row ${i}: zero flag`);
        wantZeros += zero ? 1 : 0;
      }
      assert.equal(dst.zeroRows, before + zeroFlags(got, rb), `${name}/${backend}: zero rows after the perturbed put`);
      assert.ok(wantZeros > zeros, `${name}/${backend}: perturbing made more rows zero (${wantZeros} vs ${zeros})`);
      // A table behind the records' last step caps it at its own step count.
      const behind = make();
      behind.adoptStepCount(steps / 2);
      behind.putRecords(ids, recs);
      const br = behind.mutate().records(0, n), bu = new Uint32Array(br.buffer, br.byteOffset, br.length >>> 2);
      for (let i = 0; i < n; i++) assert.ok(bu[i * w + H_TAU / 4] <= steps / 2 && bu[i * w + H_TAU / 4] > 0);
      for (const t of [src, dst, behind]) t.dispose();
    }
  });
}

for (const name of ["group-adam", "group-amsgrad"] as const) {
  test(`mergeRecord (${name}): a row both workers changed merges in the weights' space: its closed form gives the base's weights plus both moves, blended (the kernels' own weights)`, () => {
    const make = () => createOptimizer(name, hyper, { backend: "wasm" }).table({ rowLength: d, seed: 7 });
    // Two workers from one base state: the same first 40 steps, then 40 steps each on other batches.
    const tS = make(), tP = make();
    train(tS, 11, 0);
    train(tP, 11, 0);
    const ids = tS.mutate().ids(), n0 = ids.length, baseRecs = tS.mutate().records(0, n0), rb = tS.recordBytes;
    train(tS, 21, 0);
    train(tP, 22, 0);
    const slots = slotMerges(name, resolveHyperparams(name, hyper), true);
    assert.ok(slots[0].primal, "the z slot carries the closed form's terms");
    const recOf = (t: SparseTable, id: bigint) => { const m = t.mutate(), r = m.lookup(Number(id & 0xffffffffn), Number(id >> 32n)); return Buffer.from(m.arena.heap.u8.slice(r, r + rb)); };
    const wts = (rec: Uint8Array) => Array.from({ length: d }, (_, j) => new DataView(rec.buffer, rec.byteOffset).getFloat32(HEADER_BYTES + 4 * j, true));
    const merged: Buffer[] = [], wants: (number[] | undefined)[] = [];
    let checked = 0, zeroKept = 0;
    for (let i = 0; i < n0; i++) {
      const id = ids[i], base = Buffer.from(baseRecs.subarray(i * rb, (i + 1) * rb)), s = recOf(tS, id), p = recOf(tP, id);
      const m = mergeRecord(s, p, base, d, slots);
      merged.push(m);
      const k = s.readUInt32LE(H_COUNT) - base.readUInt32LE(H_COUNT), n = p.readUInt32LE(H_COUNT) - base.readUInt32LE(H_COUNT);
      const xs = wts(s), xp = wts(p), xb = wts(base);
      if (k === 0 || n === 0) continue;
      if ([...xs, ...xp, ...xb].every((v) => v === 0)) {
        // All three zero: the summed z (the sequential rule), as without the weights' space.
        assert.deepEqual(m, mergeRecord(s, p, base, d, [{ ...slots[0], primal: undefined }, ...slots.slice(1)]), `row ${i}: summed z`);
        zeroKept++;
        continue;
      }
      const a = SHARED_ROW_UPDATES / (SHARED_ROW_UPDATES + Math.min(k, n));
      wants[i] = xb.map((b, j) => b + a * (xs[j] - b + xp[j] - b) + (1 - a) * (k * (xs[j] - b) + n * (xp[j] - b)) / (k + n));
      checked++;
    }
    assert.ok(checked > 50 && zeroKept > 0, `${checked} rows merged in the weights' space, ${zeroKept} zero in all three`);
    // The closed form of each merged state, by the kernel (putRecords), against the blended moves.
    const dst = make();
    dst.adoptStepCount(tS.stepCount);
    dst.putRecords(ids, Buffer.concat(merged));
    let worst = 0;
    for (let i = 0; i < n0; i++) {
      const want = wants[i];
      if (!want) continue;
      const got = wts(recOf(dst, ids[i])), scale = Math.max(...want.map(Math.abs));
      for (let j = 0; j < d; j++) worst = Math.max(worst, Math.abs(got[j] - want[j]) / scale);
    }
    assert.ok(worst < 1e-4, `largest difference from the blended moves ${worst} (relative to the row's largest weight)`);
    for (const t of [tS, tP, dst]) t.dispose();
  });
}
