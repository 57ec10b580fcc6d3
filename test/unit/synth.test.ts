// The synthetic generator: determinism and continuation, the frequency and
// click laws on 1M rows, the truth (Bayes metrics, informative values), and
// the byte formats, each against numbers computed here independently.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  createGenerator, synthConfig, generateFiles, writeRows, isInformative, isInformativeKey, featIndexSize, csvSchema,
  CRITEO, rankSampler, type SynthConfig, type SynthFormat, type TruthJson, type Generator,
} from "../../src/data/synth/index.js";
import { permute, unpermute } from "../../src/data/synth/hash.js";
import { auc, logloss } from "../../src/metrics/index.js";
import { loadSchema } from "../../src/data/formats/schema.js";
import { generate } from "../../src/cli/generate.js";
import { parseArgs, UsageError } from "../../src/cli/args.js";
import { rng } from "../helpers/rng.js";
import { sharedFile } from "../helpers/shared.js";

/** Rows [start, start + count) of g in a format, as one buffer. */
async function bytesOf(g: Generator, format: SynthFormat, start: number, count: number, header = true): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  await writeRows(g, format, start, count, (c) => { parts.push(c); }, { header, chunkBytes: 8192 });
  return Buffer.concat(parts);
}

const lines = (b: Buffer | string): string[] => {
  const s = b.toString();
  assert.ok(s.endsWith("\n"), "output ends with a newline");
  return s.slice(0, -1).split("\n");
};

function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-synth-"));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test("same seed, same bytes; another seed, other bytes; rows K.. of one run are rows K.. of any run", async () => {
  const cfg = synthConfig({ preset: "criteo", seed: 11, scale: 0.01 });
  const a = await bytesOf(createGenerator(cfg), "criteo", 0, 6000);
  const b = await bytesOf(createGenerator(synthConfig({ preset: "criteo", seed: 11, scale: 0.01 })), "criteo", 0, 6000);
  assert.ok(a.equals(b));
  const c = await bytesOf(createGenerator(synthConfig({ preset: "criteo", seed: 12, scale: 0.01 })), "criteo", 0, 6000);
  assert.ok(!a.equals(c));
  // A later range, generated alone, is the tail of the full run: a test file continues a train file.
  const g = createGenerator(cfg);
  const tail = await bytesOf(g, "criteo", 2500, 3500);
  assert.ok(Buffer.concat([await bytesOf(g, "criteo", 0, 2500), tail]).equals(a));
  // Avazu: the header once, then rows; ids and hours continue across the split.
  const av = createGenerator(synthConfig({ preset: "avazu", seed: 3, rowsPerHour: 700 }));
  const whole = await bytesOf(av, "avazu", 0, 3000);
  const split = Buffer.concat([await bytesOf(av, "avazu", 0, 1234), await bytesOf(av, "avazu", 1234, 1766, false)]);
  assert.ok(split.equals(whole));
  // row(i) spells exactly what the criteo writer wrote.
  const l = lines(a);
  for (const i of [0, 17, 5999]) {
    const r = g.row(i);
    assert.equal(l[i], [r.label, ...r.values].join("\t"));
  }
});

test("the stream of seed 1 is pinned (a change of these bytes changes every user's data: bump the truth version)", async () => {
  const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex").slice(0, 16);
  const c = await bytesOf(createGenerator(synthConfig({ preset: "criteo", seed: 1 })), "criteo", 0, 500);
  const a = await bytesOf(createGenerator(synthConfig({ preset: "avazu", seed: 1 })), "avazu", 0, 500);
  assert.deepEqual([sha(c), sha(a)], ["e6eeea39f3fb4fdf", "fa33a6d52981a3a5"]);
});

// Fields covering every sampler path: alias tables (small V), rejection-inversion
// with the helper form (s = 1) and the plain form (s < 1, s > 1), shifts, missing values.
const LAW_FIELDS = [
  { name: "a", kind: "categorical", vocab: 50, exponent: 1.2, missing: 0.1, informative: true },
  { name: "b", kind: "categorical", vocab: 20000, exponent: 0.8, informative: true },
  { name: "c", kind: "categorical", vocab: 3_000_000, exponent: 1.05, informative: true },
  { name: "d", kind: "categorical", vocab: 1_000_000, exponent: 1.0 },
  { name: "e", kind: "categorical", vocab: 5_000_000, exponent: 0.7, missing: 0.3 },
  { name: "f", kind: "integer", vocab: 1_000_000, exponent: 2.4, shift: 20, informative: true },
  { name: "g", kind: "integer", vocab: 5000, exponent: 2.6, shift: 2 },
] as const;

/** Chi-square of observed rank counts against P(k) ∝ (k + 1 + q)^-s, computed here by direct summation. */
function zipfChiSquare(counts: Uint32Array, n: number, s: number, q: number): { chi2: number; df: number } {
  const V = counts.length;
  const w = new Float64Array(V);
  for (let k = 0; k < V; k++) w[k] = Math.pow(k + 1 + q, -s);
  let total = 0;
  for (let k = V - 1; k >= 0; k--) total += w[k]; // smallest first
  const edges = [0];
  for (let e = 1; e < V; e = e < 30 ? e + 1 : Math.ceil(e * 1.5)) edges.push(e);
  edges.push(V);
  let chi2 = 0, bins = 0, eAcc = 0, oAcc = 0;
  for (let b = 0; b + 1 < edges.length; b++) {
    for (let k = edges[b]; k < edges[b + 1]; k++) { eAcc += (w[k] / total) * n; oAcc += counts[k]; }
    if (eAcc >= 20 || b + 2 === edges.length) {
      chi2 += (oAcc - eAcc) ** 2 / eAcc;
      bins++;
      eAcc = 0;
      oAcc = 0;
    }
  }
  return { chi2, df: bins - 1 };
}

test("1M rows: field frequencies follow the requested Zipf laws, missing rates and click rate match, labels are Bernoulli(p)", () => {
  const config: SynthConfig = {
    preset: "laws", seed: 42, clickRate: 0.2, format: "csv", rowsPerHour: 1000, startHour: "14102100",
    fields: LAW_FIELDS.map((f) => ({ ...f })),
    teacher: { ...CRITEO.teacher, calibrationRows: 1 << 20 },
  };
  const g = createGenerator(config);
  const n = 1_000_000, F = LAW_FIELDS.length;
  const counts = LAW_FIELDS.map((f) => new Uint32Array(f.vocab));
  const missing = new Float64Array(F);
  const p = new Float64Array(n), y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    g.fill(i);
    for (let f = 0; f < F; f++) {
      const r = g.ranks[f];
      if (r < 0) missing[f]++;
      else counts[f][r]++;
    }
    p[i] = g.q / 1e9;
    y[i] = g.label;
  }
  LAW_FIELDS.forEach((f, k) => {
    const m = "missing" in f ? f.missing : 0;
    assert.ok(Math.abs(missing[k] / n - m) <= 5 * Math.sqrt((m * (1 - m)) / n) + 1e-12, `${f.name}: missing rate ${missing[k] / n} vs ${m}`);
    const { chi2, df } = zipfChiSquare(counts[k], n - missing[k], f.exponent, "shift" in f ? f.shift : 0);
    assert.ok(chi2 < df + 6 * Math.sqrt(2 * df), `${f.name}: chi2 ${chi2.toFixed(1)} with ${df} df`);
  });
  // Click rate: the bias is calibrated on a sample of 2^20 rows, so the target
  // is met up to that sample's error plus these rows' own binomial error.
  let sp = 0, sp2 = 0, sy = 0;
  for (let i = 0; i < n; i++) { sp += p[i]; sp2 += p[i] * p[i]; sy += y[i]; }
  const sd = Math.sqrt(sp2 / n - (sp / n) ** 2);
  const calErr = sd / Math.sqrt(config.teacher.calibrationRows), binErr = Math.sqrt(0.2 * 0.8 / n);
  assert.ok(sd > 0.05, "the informative fields move the probability");
  assert.ok(Math.abs(sp / n - 0.2) < 5 * (calErr + sd / Math.sqrt(n)), `mean p ${sp / n}`);
  assert.ok(Math.abs(sy / n - 0.2) < 5 * (calErr + binErr), `click rate ${sy / n}`);
  // Labels ~ Bernoulli(p): in each decile of p, the clicks match the sum of p.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[a] - p[b]);
  for (let d = 0; d < 10; d++) {
    let clicks = 0, expect = 0, v = 0;
    for (let j = (d * n) / 10; j < ((d + 1) * n) / 10; j++) { const i = order[j]; clicks += y[i]; expect += p[i]; v += p[i] * (1 - p[i]); }
    assert.ok(Math.abs(clicks - expect) < 5 * Math.sqrt(v), `decile ${d}: ${clicks} clicks, ${expect.toFixed(1)} expected`);
  }
});

test("Zipf samplers: edge cases, and rejection-inversion equals the alias table's law where both apply", () => {
  const one = rankSampler(1, 1.5);
  for (let i = 0; i < 100; i++) assert.equal(one.sample(i, 0), 0);
  const steep = rankSampler(1_000_000, 12);
  let zeros = 0;
  for (let i = 0; i < 10000; i++) zeros += steep.sample(i, 0) === 0 ? 1 : 0;
  // P(rank 0) = 1 / zeta(12) truncated = 0.99975...
  assert.ok(zeros >= 9990, `${zeros}`);
  for (const [n, s] of [[2, 0.5], [3, 3]] as const) {
    const sm = rankSampler(n, s), c = new Uint32Array(n);
    for (let i = 0; i < 200_000; i++) c[sm.sample(i, 8)]++;
    const { chi2, df } = zipfChiSquare(c, 200_000, s, 0);
    assert.ok(chi2 < df + 6 * Math.sqrt(2 * Math.max(df, 1)) + 10, `n=${n}: ${chi2}`);
  }
  assert.throws(() => rankSampler(0, 1), /vocabulary/);
  assert.throws(() => rankSampler(10, 0), /exponent/);
});

test("keyed bijections decode back and never collide", () => {
  const r = rng(9);
  for (const bits of [24, 32]) {
    for (let i = 0; i < 10000; i++) {
      const x = Math.floor(r() * 2 ** bits), key = Math.floor(r() * 2 ** 32);
      assert.equal(unpermute(permute(x, bits, key), bits, key), x);
    }
  }
  const seen = new Set<number>();
  for (let x = 0; x < 1 << 12; x++) seen.add(permute(x, 12, 0xabcdef));
  assert.equal(seen.size, 1 << 12);
  assert.ok([...seen].every((v) => v < 1 << 12));
});

test("the reported Bayes AUC and logloss are those of the .prob file against the test file's labels", async () => {
  await withTmp(async (dir) => {
    const g = createGenerator(synthConfig({ preset: "criteo", seed: 5, scale: 0.001 }));
    const train = join(dir, "train.txt"), testFile = join(dir, "test.txt");
    await generateFiles(g, { format: "criteo", start: 0, rows: 30000, out: train });
    const sum = await generateFiles(g, { format: "criteo", start: 30000, rows: 20000, out: testFile });
    const truth = JSON.parse(readFileSync(`${testFile}.truth.json`, "utf8")) as TruthJson;
    assert.deepEqual(sum.truth, truth);
    const rows = lines(readFileSync(testFile));
    const labels = rows.map((l) => Number(l.slice(0, l.indexOf("\t"))));
    const probs = lines(readFileSync(`${testFile}.prob`)).map(Number);
    assert.equal(rows.length, 20000);
    assert.equal(probs.length, 20000);
    assert.equal(truth.startRow, 30000);
    assert.equal(truth.rows, 20000);
    assert.equal(truth.bayes.auc, auc(probs, labels));
    assert.ok(Math.abs(truth.bayes.logloss - logloss(probs, labels)) < 1e-12);
    assert.equal(truth.achieved.positives, labels.reduce((s, v) => s + v, 0));
    // The AUC expected from the probabilities alone lands near the realised one.
    assert.ok(truth.bayes.expectedAuc !== null && Math.abs(truth.bayes.expectedAuc - truth.bayes.auc!) < 0.02);
    // The test file is the continuation of the train file: together they are rows 0..49999.
    const all = await bytesOf(createGenerator(synthConfig({ preset: "criteo", seed: 5, scale: 0.001 })), "criteo", 0, 50000);
    assert.ok(Buffer.concat([readFileSync(train), readFileSync(testFile)]).equals(all));
  });
});

test("noise has no effect: changing a non-informative value leaves p unchanged, changing an informative one moves it", () => {
  const g = createGenerator(synthConfig({ preset: "criteo", seed: 8, scale: 0.002 }));
  const truth = { config: g.config, format: "criteo" as const };
  const r = rng(4);
  let changedOk = 0, changedTotal = 0;
  for (let i = 0; i < 300; i++) {
    const row = g.row(i);
    g.config.fields.forEach((f, k) => {
      const alt = Math.floor(r() * Math.min(f.vocab, 1500));
      const ranks = row.ranks.slice();
      ranks[k] = alt;
      const p2 = g.probabilityOf(ranks);
      const was = isInformative(truth, f.name, row.values[k]), now = isInformative(truth, f.name, g.codecs[k].text(alt));
      if (!was && !now) assert.equal(p2, row.p, `${f.name}: ${row.values[k]} -> ${g.codecs[k].text(alt)}`);
      else {
        changedTotal++;
        if (p2 !== row.p) changedOk++;
      }
    });
  }
  // Equal probabilities after an informative change need two keys with equal
  // effects (integer values sharing a bucket) or a change below 1e-9: rare.
  assert.ok(changedTotal > 1000 && changedOk / changedTotal > 0.9, `${changedOk}/${changedTotal}`);
});

test("truth file: informative fields and values, isInformative on spellings, counts near keep * candidates", async () => {
  await withTmp(async (dir) => {
    const out = join(dir, "x.txt");
    const g = createGenerator(synthConfig({ preset: "criteo", seed: 21, scale: 0.01 }));
    await generateFiles(g, { format: "criteo", start: 0, rows: 2000, out });
    const truth = JSON.parse(readFileSync(`${out}.truth.json`, "utf8")) as TruthJson;
    assert.deepEqual(truth.informativeFields, CRITEO.fields.filter((f) => f.informative).map((f) => f.name));
    assert.equal(truth.informativeFields.length + truth.noiseFields.length, 39);
    let informative = 0, candidates = 0;
    for (const f of truth.fields) {
      if (!f.informative) {
        assert.equal(isInformative(truth, f.name, g.codecs[truth.fields.indexOf(f)].text(0)), false);
        continue;
      }
      const k = truth.fields.indexOf(f);
      const keys = Array.from({ length: f.candidates! }, (_, j) => j).filter((j) => isInformativeKey(truth, f.name, j));
      assert.equal(keys.length, f.informativeCount);
      assert.equal(keys[0], 0, "key 0 is always informative");
      if (f.kind === "integer") assert.deepEqual(keys, f.informativeBuckets);
      else {
        assert.deepEqual(f.informativeValues, keys.map((j) => g.codecs[k].text(j)));
        for (const v of f.informativeValues!) assert.equal(isInformative(truth, f.name, v), true);
        // Past the candidates, nothing is informative.
        if (f.vocab > f.candidates!) assert.equal(isInformative(truth, f.name, g.codecs[k].text(f.candidates!)), false);
      }
      informative += keys.length - 1;
      candidates += f.candidates! - 1;
    }
    const keep = truth.config.teacher.keep;
    assert.ok(Math.abs(informative / candidates - keep) < 5 * Math.sqrt(keep * (1 - keep) / candidates), `${informative}/${candidates}`);
    assert.equal(isInformative(truth, "C1", ""), false);
    assert.equal(isInformative(truth, "C1", "not-a-value"), false);
    assert.throws(() => isInformative(truth, "nope", "1"), /no field/);
    // Integer fields are judged by their Criteo bucket: the raw value in text formats.
    const i1 = truth.fields.find((f) => f.name === "I1")!;
    const b = i1.informativeBuckets!.find((x) => x > 10)!;
    const v = Math.ceil(Math.exp(Math.sqrt(b))) + 1; // floor(ln(v)^2) = b for v just above e^sqrt(b)
    assert.equal(Math.floor(Math.log(v) ** 2), b);
    assert.equal(isInformative(truth, "I1", String(v)), true);
    assert.equal(isInformative({ ...truth, format: "libsvm" }, "I1", String(b)), true);
  });
});

test("criteo format: 40 tab-separated columns, decimal integers, 8-hex categoricals, missing rates as requested", async () => {
  const g = createGenerator(synthConfig({ preset: "criteo", seed: 2, scale: 0.01 }));
  const rows = lines(await bytesOf(g, "criteo", 0, 20000));
  const empty = new Float64Array(39);
  for (const line of rows) {
    const c = line.split("\t");
    assert.equal(c.length, 40);
    assert.match(c[0], /^[01]$/);
    for (let f = 1; f <= 13; f++) assert.match(c[f], /^(0|[1-9]\d*)?$/);
    for (let f = 14; f <= 39; f++) assert.match(c[f], /^([0-9a-f]{8})?$/);
    for (let f = 0; f < 39; f++) if (c[f + 1] === "") empty[f]++;
  }
  CRITEO.fields.forEach((f, k) => {
    const m = f.missing ?? 0;
    assert.ok(Math.abs(empty[k] / rows.length - m) <= 5 * Math.sqrt(m * (1 - m) / rows.length), `${f.name}: ${empty[k] / rows.length} vs ${m}`);
  });
});

test("avazu format: the exact header, unique 64-bit ids, hours advancing as YYMMDDHH across days", async () => {
  const g = createGenerator(synthConfig({ preset: "avazu", seed: 2, rowsPerHour: 500 }));
  const rows = lines(await bytesOf(g, "avazu", 0, 20000));
  assert.equal(rows[0], "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21");
  const ids = new Set<string>();
  for (let i = 0; i < 20000; i++) {
    const c = rows[i + 1].split(",");
    assert.equal(c.length, 24);
    assert.match(c[0], /^[1-9]\d{0,19}$/);
    assert.ok(BigInt(c[0]) < 2n ** 64n);
    ids.add(c[0]);
    assert.match(c[1], /^[01]$/);
    // Hour h = floor(i / 500) after 2014-10-21 00:00 UTC.
    const d = new Date(Date.UTC(2014, 9, 21) + Math.floor(i / 500) * 3_600_000);
    const stamp = [d.getUTCFullYear() - 2000, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours()].map((v) => String(v).padStart(2, "0")).join("");
    assert.equal(c[2], stamp);
    for (const k of [5, 6, 7, 8, 9, 10, 11, 12, 13]) assert.match(c[k], /^[0-9a-f]{8}$/);
    for (const k of [3, 4, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]) assert.match(c[k], /^-?\d+$/);
  }
  assert.equal(ids.size, 20000);
  assert.equal(rows.at(-1)!.split(",")[2], "14102215");
});

test("libsvm format: one ascending index per field, featindex lines spell the same values as the csv rows", async () => {
  await withTmp(async (dir) => {
    const g = createGenerator(synthConfig({ preset: "criteo", seed: 4, scale: 0.0005 }));
    const out = join(dir, "c.svm");
    await generateFiles(g, { format: "libsvm", start: 100, rows: 3000, out });
    const csvRows = lines(await bytesOf(g, "csv", 100, 3000)).slice(1);
    const dict = new Map<number, string>();
    const fi = lines(readFileSync(`${out}.featindex`));
    assert.equal(fi.length, featIndexSize(g.config.fields));
    fi.forEach((l, n) => {
      const m = /^([^:\t]+):([^\t]*)\t(\d+)$/.exec(l);
      assert.ok(m, l);
      assert.equal(Number(m[3]), n, "indices are 0..N-1 in order");
      dict.set(n, `${m[1]}:${m[2]}`);
    });
    const names = g.config.fields.map((f) => f.name);
    lines(readFileSync(out)).forEach((l, i) => {
      const t = l.split(" "), c = csvRows[i].split(",");
      assert.equal(t.length, 40);
      assert.equal(t[0], c[0]);
      let prev = -1;
      for (let f = 0; f < 39; f++) {
        const [idx, one] = t[f + 1].split(":");
        assert.equal(one, "1");
        assert.ok(Number(idx) > prev);
        prev = Number(idx);
        const v = c[f + 1];
        const want = v === "" ? "other" : g.config.fields[f].kind === "integer" ? String(Number(v) > 2 ? Math.floor(Math.log(Number(v)) ** 2) : Number(v)) : v;
        assert.equal(dict.get(prev), `${names[f]}:${want}`);
      }
    });
    // The featindex size guard.
    await assert.rejects(generateFiles(createGenerator(synthConfig({ preset: "criteo" })), { format: "libsvm", start: 0, rows: 1, out: join(dir, "big.svm") }), /--no-featindex/);
  });
});

test("ipinyou preset: the fields of the real featindex, in its order", async () => {
  const fields = createGenerator(synthConfig({ preset: "ipinyou" })).config.fields.map((f) => f.name);
  assert.equal(fields.length, 16);
  // The shared samples are part of the test set-up: a missing file fails here.
  const path = sharedFile("ipinyou/featindex.fm.txt");
  assert.ok(existsSync(path), `${path} is missing`);
  const order: string[] = [];
  for (const l of readFileSync(path, "utf8").split("\n")) {
    const f = l.slice(0, l.indexOf(":"));
    if (l && order.at(-1) !== f) order.push(f);
  }
  assert.deepEqual(fields, order);
});

test("csv format: header click,<fields> and the reader's schema file", async () => {
  await withTmp(async (dir) => {
    const g = createGenerator(synthConfig({ preset: "criteo", seed: 3, scale: 0.001 }));
    const out = join(dir, "c.csv");
    await generateFiles(g, { format: "csv", start: 0, rows: 500, out, truth: null });
    const rows = lines(readFileSync(out));
    assert.equal(rows[0], ["click", ...CRITEO.fields.map((f) => f.name)].join(","));
    assert.equal(rows.length, 501);
    const schema = JSON.parse(readFileSync(`${out}.schema.json`, "utf8"));
    assert.deepEqual(schema, csvSchema(g.config.fields));
    assert.deepEqual(Object.keys(schema), ["delimiter", "header", "label", "categorical", "numeric", "ignore"]);
    assert.deepEqual(schema.numeric[0], { name: "I1", bucket: "criteo" });
    assert.equal(schema.categorical.length, 26);
    const parsed = loadSchema(`${out}.schema.json`);
    assert.equal(parsed.numeric.length, 13);
    assert.equal(existsSync(`${out}.truth.json`), false);
  });
});

test("sparsectr generate: writes data, truth, prob and gzip; bad options are usage errors naming the option", async () => {
  await withTmp(async (dir) => {
    const run = (...argv: string[]): Promise<number> => generate.run(parseArgs(argv, generate.options));
    const plain = join(dir, "i.txt"), gz = join(dir, "i.txt.gz");
    const stderr = process.stderr.write;
    process.stderr.write = () => true; // the summary line
    try {
      assert.equal(await run("--preset", "ipinyou", "--rows", "3000", "--seed", "9", "--out", plain), 0);
      assert.equal(await run("--preset", "ipinyou", "--rows", "3000", "--seed", "9", "--out", gz, "--no-truth", "--no-featindex"), 0);
    } finally {
      process.stderr.write = stderr;
    }
    assert.ok(gunzipSync(readFileSync(gz)).equals(readFileSync(plain)));
    assert.ok(existsSync(`${plain}.featindex`) && existsSync(`${plain}.truth.json`) && existsSync(`${plain}.prob`));
    assert.ok(!existsSync(`${gz}.featindex`) && !existsSync(`${gz}.truth.json`));
    const truth = JSON.parse(readFileSync(`${plain}.truth.json`, "utf8")) as TruthJson;
    assert.equal(truth.format, "libsvm");
    assert.equal(truth.seed, 9);
    for (const [argv, option] of [
      [["--rows", "abc", "--out", plain], "--rows"],
      [["--rows", "0", "--out", plain], "--rows"],
      [["--out", plain], "--rows"],
      [["--rows", "5"], "--out"],
      [["--preset", "kdd", "--rows", "5", "--out", plain], "--preset"],
      [["--format", "parquet", "--rows", "5", "--out", plain], "--format"],
      [["--click-rate", "1.5", "--rows", "5", "--out", plain], "--click-rate"],
      [["--scale", "-1", "--rows", "5", "--out", plain], "--scale"],
      [["--seed", "1.5", "--rows", "5", "--out", plain], "--seed"],
      [["--informative", "C1,nope", "--rows", "5", "--out", plain], "--informative"],
      [["--informative", "99", "--rows", "5", "--out", plain], "--informative"],
    ] as const) {
      await assert.rejects(run(...argv), (e: Error) => e instanceof UsageError && e.message.includes(option), `${argv.join(" ")}`);
    }
  });
});

test("overrides: click rate, informative count and names, scale", () => {
  const g = createGenerator(synthConfig({ preset: "avazu", seed: 6, clickRate: 0.05, informative: 4 }));
  const inf = g.config.fields.filter((f) => f.informative).map((f) => f.name);
  assert.equal(inf.length, 4);
  assert.ok(inf.every((n) => synthConfig({ preset: "avazu" }).fields.find((f) => f.name === n)!.informative), "a smaller count keeps preset fields");
  let s = 0;
  for (let i = 0; i < 20000; i++) { g.fill(i); s += g.q / 1e9; }
  assert.ok(Math.abs(s / 20000 - 0.05) < 0.005, `${s / 20000}`);
  const named = synthConfig({ preset: "criteo", informative: ["C9", "I2"] });
  assert.deepEqual(named.fields.filter((f) => f.informative).map((f) => f.name), ["I2", "C9"]);
  const scaled = synthConfig({ preset: "criteo", scale: 0.001 });
  const c3 = scaled.fields.find((f) => f.name === "C3")!, c9 = scaled.fields.find((f) => f.name === "C9")!, i5 = scaled.fields.find((f) => f.name === "I5")!;
  assert.equal(c3.vocab, Math.round(20262454 * 0.001));
  assert.equal(c9.vocab, 3);
  assert.equal(i5.vocab, 23159457, "integer ranges are not scaled");
  assert.throws(() => synthConfig({ preset: "avazu", informative: ["hour"] }), /clock/);
});
