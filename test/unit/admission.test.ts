// Feature admission and OOV rows: routing equals a brute-force count of
// sightings; the rows a trained table creates are exactly the features seen
// at least N times (plus the OOV rows used); an unseen feature reads its
// field's OOV row at evaluation and serving (which differs from a zero
// vector), and the exported model scores as the trained one. Sightings
// elsewhere (a cluster run's other workers) count one sighting more at a
// key's first occurrence (brute force).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Admission, oovKey, oovTable } from "../../src/train/admission.js";
import { featureKey } from "../../src/data/hash.js";
import { openData, type Batch } from "../../src/data/index.js";
import { buildModel } from "../../src/train/model.js";
import { trainModel } from "../../src/train/trainer.js";
import { encodeModel, Predictor } from "../../src/serve/model-file.js";
import { rng } from "../helpers/rng.js";

/** A stream of rows of `fields` keys, values drawn heavy-tailed per field. */
function stream(rows: number, fields: number, seed: number): BigUint64Array {
  const r = rng(seed), keys = new BigUint64Array(rows * fields);
  for (let i = 0; i < rows; i++) for (let f = 0; f < fields; f++) keys[i * fields + f] = featureKey(f, String(Math.floor(Math.pow(r(), 3) * 300)));
  return keys;
}

// Calls of 64 rows, and of 1000 rows (5,000 keys: more than the counts' kernel takes at a time).
for (const per of [64, 1000]) test(`admission routes each sighting as a brute-force count says, in two passes, and survives save/load (calls of ${per} rows)`, () => {
  const F = 5, rows = 4000, N = 3;
  const keys = stream(rows, F, 1), words = new Uint32Array(keys.buffer);
  const a = new Admission(N, F, 16);
  const out = new Uint32Array(words.length);
  const counts = new Map<bigint, number>();
  const oov = oovTable(F);
  for (let b = 0; b < rows; b += per) {
    const n = Math.min(per, rows - b) * F;
    a.route(words.subarray(2 * b * F), n, out.subarray(2 * b * F), undefined, true);
  }
  let routed = 0;
  for (let j = 0; j < rows * F; j++) {
    const c = (counts.get(keys[j]) ?? 0) + 1;
    counts.set(keys[j], c);
    const own = c >= N;
    if (!own) routed++;
    const want = own ? [words[2 * j], words[2 * j + 1]] : [oov[2 * (j % F)], oov[2 * (j % F) + 1]];
    assert.deepEqual([out[2 * j], out[2 * j + 1]], want, `key ${j}, sighting ${c}`);
  }
  assert.equal(a.seen, counts.size);
  assert.equal(a.admitted, [...counts.values()].filter((c) => c >= N).length);
  assert.equal(a.routed, routed);
  // A second pass routes by the final counts without counting.
  const b = Admission.load(a.save());
  assert.equal(b.seen, a.seen);
  assert.equal(b.admitted, a.admitted);
  b.route(words, rows * F, out, undefined, false);
  for (let j = 0; j < rows * F; j++) {
    const own = counts.get(keys[j])! >= N;
    assert.equal(out[2 * j] === words[2 * j] && out[2 * j + 1] === words[2 * j + 1], own, `second pass, key ${j}`);
    const w = new Uint32Array(new BigUint64Array([keys[j]]).buffer);
    assert.equal(b.count(w[0], w[1]), counts.get(keys[j]));
  }
  assert.equal(b.seen, a.seen, "a second pass counts nothing");
  // OOV keys differ per field and from every feature's key.
  const oovs = new Set(Array.from({ length: F }, (_, f) => oovKey(f)));
  assert.equal(oovs.size, F);
  for (const k of counts.keys()) assert.ok(!oovs.has(k));
});

test("sightings elsewhere: a key another worker counted counts one sighting more at its first occurrence here (brute force, N = 2 and 3); admitKeys makes a key its own once, OOV keys left out", () => {
  const F = 4, rows = 3000;
  for (const N of [2, 3]) {
    const keys = stream(rows, F, 7), words = new Uint32Array(keys.buffer);
    // The other worker's keys: every third distinct key of this stream, and keys this one never sees.
    const distinct = [...new Set(keys)], other = new Set(distinct.filter((_, i) => i % 3 === 0));
    const told: bigint[] = [];
    const key = (lo: number, hi: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    const a = new Admission(N, F, 16);
    a.elsewhere = { add: (lo, hi) => { told.push(key(lo, hi)); }, seen: (lo, hi) => other.has(key(lo, hi)) };
    const out = new Uint32Array(words.length);
    a.route(words, rows * F, out, undefined, true);
    const counts = new Map<bigint, number>();
    for (let j = 0; j < rows * F; j++) {
      const c = counts.get(keys[j]) ?? (other.has(keys[j]) ? 1 : 0);
      counts.set(keys[j], c + 1);
      assert.equal(out[2 * j] === words[2 * j] && out[2 * j + 1] === words[2 * j + 1], c + 1 >= N, `N ${N}, key ${j}, sighting ${c + 1}`);
    }
    assert.deepEqual(told, distinct, "told of each key once, at its first occurrence");
    assert.equal(a.admitted, [...counts.values()].filter((c) => c >= N).length);
    // admitKeys: a key with a row elsewhere routes to itself; admitting again changes nothing; OOV keys are left out.
    const rare = distinct.find((k) => counts.get(k)! < N)!, w = new Uint32Array(new BigUint64Array([rare]).buffer);
    const before = a.admitted, oov = oovTable(F);
    a.admitKeys(w);
    a.admitKeys(Uint32Array.of(w[0], w[1], oov[0], oov[1], w[0], w[1]));
    assert.equal(a.admitted, before + 1);
    assert.equal(a.count(w[0], w[1]), N);
    assert.equal(a.count(oov[0], oov[1]), 0, "an OOV key is not admitted");
    const fresh = new Uint32Array(new BigUint64Array([0x1234567890abcn]).buffer), seenBefore = a.seen;
    a.admitKeys(fresh);
    assert.equal(a.seen, seenBefore + 1);
    assert.equal(a.admitted, before + 2);
    const o = new Uint32Array(2);
    a.route(fresh, 1, o, undefined, false);
    assert.deepEqual([...o], [...fresh]);
  }
});

test("training with minCount N creates exactly the rows of features seen >= N times, and unseen features read their field's OOV row", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-admission-"));
  try {
    // libsvm rows of 4 positional fields: a few frequent values, many rare ones.
    const r = rng(5), F = 4, lines: string[] = [];
    const values: number[][] = [];
    for (let i = 0; i < 3000; i++) {
      const v = Array.from({ length: F }, () => Math.floor(Math.pow(r(), 4) * 2000));
      values.push(v);
      const y = (v[0] % 3 === 0 ? 0.7 : 0.2) > r() ? 1 : 0;
      lines.push(`${y} ${v.map((x, f) => `${f * 10000 + x}:1`).join(" ")}`);
    }
    const path = join(dir, "train.svm");
    writeFileSync(path, lines.join("\n") + "\n");
    const N = 3;
    const file = await openData(path, { batchSize: 64 });
    const m = buildModel(F, { model: "dcn", optimizer: "adam", seed: 1, minCount: N, epochs: 2 });
    // The next batch looked up ahead (routed provisionally) where the machine allows it.
    await trainModel(m, file, undefined, undefined, { lookahead: true });
    const counts = new Map<string, number>();
    for (const v of values) v.forEach((x, f) => counts.set(`${f}:${x}`, (counts.get(`${f}:${x}`) ?? 0) + 1));
    const admitted = [...counts.values()].filter((c) => c >= N).length;
    const usedOov = new Set<number>();
    for (const [k, c] of counts) if (c < N) usedOov.add(Number(k.split(":")[0]));
    assert.equal(m.tables[0].size, admitted + usedOov.size, "rows = admitted features + OOV rows used");
    assert.equal(m.features, counts.size, "features: every distinct feature of the training rows");
    assert.equal(m.admission!.admitted, admitted);
    // Occurrences routed to an OOV row, each counted once however the steps
    // were looked up ahead: in the first pass while the running count is
    // under N, in the second when the feature's count is.
    const running = new Map<string, number>();
    let routed = 0;
    for (const v of values) v.forEach((x, f) => { const c = (running.get(`${f}:${x}`) ?? 0) + 1; running.set(`${f}:${x}`, c); if (c < N) routed++; });
    for (const v of values) v.forEach((x, f) => { if (counts.get(`${f}:${x}`)! < N) routed++; });
    assert.equal(m.admission!.routed, routed, "occurrences routed to OOV rows");
    for (const f of usedOov) assert.ok(m.tables[0].has(oovKey(f)), `OOV row of field ${f}`);
    // A row of features never seen: each reads its field's OOV row; zeroing
    // those rows changes the score, so they were read (not a zero vector).
    const unseen = join(dir, "unseen.svm");
    writeFileSync(unseen, `1 ${Array.from({ length: F }, (_, f) => `${f * 10000 + 9999}:1`).join(" ")}\n0 ${values[0].map((x, f) => `${f * 10000 + x}:1`).join(" ")}\n`);
    const ub = (await (await openData(unseen, { batchSize: 8 })).batches().next()).value as Batch;
    const p = m.predict(ub);
    const oovRows = Array.from({ length: F }, (_, f) => m.tables[0].get(oovKey(f))!);
    const x = new Float32Array(2 * F * 8);
    for (let f = 0; f < F; f++) x.set(oovRows[f], f * 8);
    const manual = m.model.forward([x], 2, false);
    assert.ok(Math.abs(1 / (1 + Math.exp(-manual[0])) - p[0]) < 1e-6, `unseen row: ${p[0]} vs the OOV rows' ${manual[0]}`);
    const zero = m.model.forward([new Float32Array(2 * F * 8)], 2, false);
    assert.ok(Math.abs(1 / (1 + Math.exp(-zero[0])) - p[0]) > 1e-4, "the OOV rows differ from a zero vector");
    // The exported model keeps the OOV rows and scores the same.
    const served = Predictor.decode(encodeModel(m, { format: file.format, fields: file.fields }));
    const q = served.predict(ub);
    for (let i = 0; i < 2; i++) assert.ok(Math.abs(q[i] - p[i]) < 1e-6, `served row ${i}: ${q[i]} vs ${p[i]}`);
    assert.equal(served.features, m.liveFeatures);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
