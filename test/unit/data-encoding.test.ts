// Feature encoding: deterministic keys, the vocabulary (first-sight ids,
// min-count with per-field out-of-vocabulary rows) and fixed-size hashing,
// each against brute-force counting; index memory per key; holdout splits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openData, Vocabulary, hashIds, featureKey, holdoutSplit } from "../../src/index.js";
import { rng } from "../helpers/rng.js";
import { haveShared, SHARED } from "../helpers/shared.js";

const haveData = haveShared("README.md");

function keyWords(keys: bigint[]): Uint32Array {
  const w = new Uint32Array(2 * keys.length);
  keys.forEach((k, i) => { w[2 * i] = Number(k & 0xffffffffn); w[2 * i + 1] = Number(k >> 32n); });
  return w;
}

/** A stream of (field, value) pairs with Zipf-like repetition, as strings and keys. */
function stream(n: number, fields: number, seed: number): { values: string[]; keys: bigint[] } {
  const r = rng(seed), values: string[] = [], keys: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const f = i % fields;
    const v = `v${Math.floor(1 / (r() + 1e-4))}`;
    values.push(`${f}:${v}`);
    keys.push(featureKey(f, v));
  }
  return { values, keys };
}

test("feature keys are deterministic, depend on field and value, and the empty value is distinct", () => {
  assert.equal(featureKey(3, "abc"), featureKey(3, "abc"));
  assert.notEqual(featureKey(3, "abc"), featureKey(4, "abc"));
  assert.notEqual(featureKey(3, "abc"), featureKey(3, "abd"));
  assert.notEqual(featureKey(3, ""), featureKey(4, ""));
  // No collision among 200k distinct (field, value) pairs.
  const seen = new Set<bigint>();
  for (let f = 0; f < 4; f++) for (let v = 0; v < 50_000; v++) seen.add(featureKey(f, String(v)));
  assert.equal(seen.size, 200_000);
});

test("vocabulary: ids in order of first sight, equal to brute-force numbering, across growth", () => {
  const { values, keys } = stream(200_000, 5, 1);
  const voc = new Vocabulary({ fields: 5, capacity: 16 });
  const ids = new Uint32Array(keys.length);
  voc.encode(keyWords(keys), keys.length, ids);
  const order = new Map<string, number>();
  values.forEach((v, i) => {
    if (!order.has(v)) order.set(v, order.size);
    assert.equal(ids[i], order.get(v));
  });
  assert.equal(voc.size, order.size);
  assert.equal(voc.keys, order.size);
  // The same input gives the same ids on a fresh vocabulary.
  const again = new Uint32Array(keys.length);
  new Vocabulary({ fields: 5 }).encode(keyWords(keys), keys.length, again);
  assert.deepEqual(again, ids);
});

test("vocabulary with minCount: a key gets its own id at its minCount-th occurrence, OOV row of its field before", () => {
  const fields = 3, minCount = 3;
  const { values, keys } = stream(60_000, fields, 2);
  const voc = new Vocabulary({ fields, minCount, capacity: 16 });
  const ids = new Uint32Array(keys.length);
  voc.encode(keyWords(keys), keys.length, ids);
  const count = new Map<string, number>(), own = new Map<string, number>();
  let next = fields;
  values.forEach((v, i) => {
    const c = (count.get(v) ?? 0) + 1;
    count.set(v, c);
    if (c >= minCount && !own.has(v)) own.set(v, next++);
    assert.equal(ids[i], own.get(v) ?? i % fields, `position ${i} (${v}, count ${c})`);
  });
  assert.equal(voc.size, next);
  assert.equal(voc.keys, count.size);
  const k0 = keys[0];
  assert.equal(voc.lookup(Number(k0 & 0xffffffffn), Number(k0 >> 32n)), own.get(values[0]) ?? -1);
});

test("hashing: ids are the keys' buckets, stable, spread over all buckets", () => {
  const { keys } = stream(50_000, 4, 3);
  const w = keyWords(keys), a = new Uint32Array(keys.length), b = new Uint32Array(keys.length);
  hashIds(w, keys.length, 1000, a);
  hashIds(w, keys.length, 1000, b);
  assert.deepEqual(a, b);
  assert.ok(a.every((v) => v < 1000));
  // Equal keys share a bucket; the buckets of distinct keys are close to uniform.
  const byKey = new Map<bigint, number>();
  keys.forEach((k, i) => { if (byKey.has(k)) assert.equal(byKey.get(k), a[i]); byKey.set(k, a[i]); });
  const hist = new Array(1000).fill(0);
  for (const v of byKey.values()) hist[v]++;
  const mean = byKey.size / 1000, chi2 = hist.reduce((s, h) => s + (h - mean) ** 2 / mean, 0);
  assert.ok(chi2 < 1200, `chi-square ${chi2} over 999 degrees of freedom`);
  assert.throws(() => hashIds(w, 1, 0, a), /buckets = 0/);
});

test("index memory: 12 bytes a slot at load <= 0.75, so 20M keys take 2^25 slots = 403 MB (< 1 GiB, 20.1 B/key)", () => {
  const voc = new Vocabulary({ fields: 1, capacity: 16 });
  const n = 3 * 2 ** 18; // exactly 0.75 of 2^20 slots
  const w = new Uint32Array(2 * n), out = new Uint32Array(n);
  for (let i = 0; i < n; i++) { w[2 * i] = Math.imul(i, 0x9e3779b1) >>> 0; w[2 * i + 1] = i; }
  voc.encode(w, n, out);
  assert.equal(voc.keys, n);
  assert.equal(voc.bytes, 2 ** 20 * 12);
  assert.ok(voc.bytes / n <= 16.1);
  // The same rule at 20M keys: the smallest power of two with 20M <= 0.75 cap is 2^25.
  const cap = 2 ** Math.ceil(Math.log2(20e6 / 0.75));
  assert.equal(cap, 2 ** 25);
  assert.ok(cap * 12 < 2 ** 30 && (cap * 12) / 20e6 <= 24);
});

test("holdout splits: last fraction (Criteo's 1/7), last rows, Avazu's last day", { skip: !haveData && "shared data not present" }, async () => {
  const criteo = await openData(join(SHARED, "criteo/train.txt"));
  const s = await holdoutSplit(criteo, { lastFraction: 1 / 7 });
  assert.deepEqual(s, { total: 7200, train: { start: 0, end: 6171 }, test: { start: 6171, end: 7200 } });
  let rows = 0;
  for await (const b of criteo.batches(s.test)) rows += b.rows;
  assert.equal(rows, 1029);
  const r = await holdoutSplit(criteo, { lastRows: 200 });
  assert.equal(r.train.end, 7000);
  await assert.rejects(holdoutSplit(criteo, { lastRows: 7200 }), /must be an integer in \[1, 7199\]/);
  await assert.rejects(holdoutSplit(criteo, { lastDay: true }), /needs Avazu's hour column/);
});

test("Avazu last-day holdout cuts where the day changes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-split-"));
  try {
    const header = "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21";
    const row = (i: number, hour: string): string => [i, i % 2, hour, ...Array(21).fill("x")].join(",");
    const lines = [header, row(1, "14102100"), row(2, "14102123"), row(3, "14102200"), row(4, "14102201"), row(5, "14102305"), row(6, "14102306")];
    const p = join(dir, "a.csv");
    writeFileSync(p, lines.join("\n") + "\n");
    const f = await openData(p);
    assert.deepEqual(await holdoutSplit(f, { lastDay: true }), { total: 6, train: { start: 0, end: 4 }, test: { start: 4, end: 6 } });
    const weekdays: bigint[] = [];
    for await (const b of f.batches()) for (let r = 0; r < b.rows; r++) weekdays.push(b.keys[r * 23 + 1]);
    // 2014-10-21 was a Tuesday (2), the 23rd a Thursday (4).
    assert.deepEqual(weekdays, ["2", "2", "3", "3", "4", "4"].map((d) => featureKey(1, d)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
