// Regression cases of the bugs the fuzzing (fuzz-readers, fuzz-states) found:
// each the smallest input that showed it, with the clear refusal or the
// correct result now expected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openData } from "../../src/data/reader.js";
import type { ReadOptions } from "../../src/data/types.js";
import { DataError } from "../../src/data/errors.js";
import { loadFeatIndex } from "../../src/data/formats/featindex.js";
import { loadSchema } from "../../src/data/formats/schema.js";
import { hashInt } from "../../src/data/formats/bucket.js";
import { hashKey } from "../../src/data/hash.js";
import { lineBlocks } from "../../src/data/lines.js";
import { createOptimizer } from "../../src/optim/optimizer.js";
import { SparseTable } from "../../src/optim/table.js";
import { DenseParam } from "../../src/optim/dense.js";
import { buildModel, type TrainSettings } from "../../src/train/model.js";
import { startPosition } from "../../src/train/trainer.js";
import { encodeModel, Predictor } from "../../src/serve/model-file.js";
import { minParamValues } from "../../src/models/size.js";
import { CHECKPOINT_FILE, decodeCheckpoint, writeCheckpoint } from "../../src/train/checkpoint.js";
import { resolveConfig } from "../../src/models/config.js";
import { H_COUNT, H_FLAGS, H_TAU } from "../../src/kernels/layout.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/io/envelope.js";
import { openEnvelope, Rand, sealEnvelope } from "../helpers/fuzz.js";
import { testRun } from "../helpers/run.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-fuzz-regressions-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string | Uint8Array, name = `f${n++}.txt`): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function readAll(path: string, opts: ReadOptions): Promise<{ keys: bigint[]; rows: number; skipped: number; bad: string[] }> {
  const f = await openData(path, opts);
  const keys: bigint[] = [];
  let rows = 0;
  for await (const b of f.batches()) { keys.push(...b.keys); rows += b.rows; }
  return { keys, rows, skipped: f.stats.skipped, bad: f.stats.firstBad.map((e) => e.message) };
}

/** The rise of the process's peak resident set while f runs, MB. */
async function peakRise<T>(f: () => Promise<T> | T): Promise<[T, number]> {
  const before = process.resourceUsage().maxRSS;
  const v = await f();
  return [v, (process.resourceUsage().maxRSS - before) / 1024];
}

// ---------------------------------------------------------------- readers

test("featindex: a few huge indices allocate by the entries, not by the largest index (was 3 GB for one line)", async () => {
  const sparse = file("a:x\t0\nb:y\t268435455\nb:z\t200000000\n");
  const [fi, mb] = await peakRise(() => loadFeatIndex(sparse));
  assert.ok(fi.fieldOf.length <= 3 && fi.keyOf.length <= 6, `arrays of ${fi.fieldOf.length} entries`);
  assert.ok(mb < 64, `peak resident set +${mb.toFixed(0)} MB`);
  // The same dictionary numbered densely gives the same keys.
  const dense = file("a:x\t0\nb:y\t1\nb:z\t2\n");
  const a = await readAll(file("1 0:1 268435455:1\n0 0:1 200000000:1\n1 0:1 5:1\n"), { format: "libsvm", featindex: sparse, skipBadRows: true, maxBadRows: { count: 1 } });
  const b = await readAll(file("1 0:1 1:1\n0 0:1 2:1\n"), { format: "libsvm", featindex: dense });
  assert.deepEqual(a.keys, b.keys);
  assert.equal(a.rows, 2);
  assert.match(a.bad[0], /:3: column 3: index 5 is not in the featindex/);
  await assert.rejects(loadFeatIndex(file("a:x\t268435455\nb:y\t7\na:z\t268435455\n")), (e: unknown) => e instanceof DataError && e.line === 3 && /index 268435455 appears twice/.test(e.message));
});

test("libsvm without a featindex: the first row must be a libsvm row, of at most 4096 features (was a batch of 20k+ fields from any first line)", async () => {
  const garbage = file(`${"a ".repeat(30000)}\n1 1:1 2:1\n`);
  await assert.rejects(openData(garbage, { format: "libsvm", skipBadRows: true }), (e: unknown) => e instanceof DataError && e.line === 1 && /the first row sets the field count/.test(e.message));
  const wide = file(`1 ${Array.from({ length: 5000 }, (_, i) => `${i}:1`).join(" ")}\n`);
  await assert.rejects(openData(wide, { format: "libsvm" }), /:1: the first row has 5000 features, more than 4096: give a featindex/);
  const ok = await readAll(file("0\n1\n"), { format: "libsvm" });
  assert.equal(ok.rows, 2);
});

test("a batch that cannot be allocated is refused before trying (was 'Array buffer allocation failed')", async () => {
  const cols = Array.from({ length: 3000 }, (_, i) => `c${i}`);
  const path = file(`click,${cols.join(",")}\n1,${cols.map(() => "x").join(",")}\n`);
  await assert.rejects(openData(path, { schema: { label: "click", categorical: cols }, batchSize: 1 << 20 }), (e: unknown) => e instanceof RangeError && e.message.startsWith(path) && /use a smaller batch size/.test(e.message));
});

test("a header of 150k distinct columns is refused at once, naming a few (was quadratic: minutes)", async () => {
  const cols = Array.from({ length: 150_000 }, (_, i) => `c${i}`);
  const path = file(`click,a,${cols.join(",")}\n1,x\n`);
  const t0 = performance.now();
  await assert.rejects(openData(path, { schema: { label: "click", categorical: ["a"] } }), (e: unknown) => {
    assert.ok(e instanceof DataError && e.line === 1, String(e));
    assert.match(e.message, /columns not in the schema .*: c0, c1, .*c9 and 149990 more$/);
    return true;
  });
  const dup = file(`click,a,${cols.join(",")},c5\n`);
  await assert.rejects(openData(dup, { schema: { label: "click", categorical: ["a"], ignore: cols } }), /:1: column "c5" appears twice in the header/);
  assert.throws(() => loadSchema({ label: "click", categorical: [...cols, "c7"] }), /schema: column "c7" is named twice/);
  const ms = performance.now() - t0;
  assert.ok(ms < 3000, `${ms.toFixed(0)} ms`);
});

test("a header-less schema's columns are checked with the schema, the error naming it (was 'column ... appears twice in the header', no file)", () => {
  const base = { header: false, label: "y", categorical: ["a", "b"] };
  assert.throws(() => loadSchema({ ...base, columns: ["y", "a", "b", "a"] }), /^Error: schema: column "a" appears twice in "columns"$/);
  assert.throws(() => loadSchema({ ...base, columns: ["y", "a"] }), /^Error: schema: columns named but not in "columns": b$/);
  assert.throws(() => loadSchema({ ...base, columns: ["y", "a", "b", "z"] }), /^Error: schema: "columns" has columns the schema does not name .*: z$/);
  assert.equal(loadSchema({ ...base, columns: ["b", "y", "a"] }).columns?.length, 3);
});

test("a line over 64 MiB is a DataError naming the file and line (was a RangeError without the file)", async () => {
  const mb = Buffer.alloc(1 << 20, 97);
  async function* chunks(): AsyncGenerator<Buffer> {
    yield Buffer.from("a\nb\n");
    for (let i = 0; i < 66; i++) yield mb;
  }
  await assert.rejects(async () => { for await (const _ of lineBlocks(chunks(), false, "big.txt")) { /* reading */ } },
    (e: unknown) => e instanceof DataError && e.file === "big.txt" && e.line === 3 && /longer than 67108864 bytes/.test(e.message));
});

test("csv: a number beyond the float32 range is a bad value, not Infinity in the batch (was accepted as Infinity)", async () => {
  const schema = { label: "y", numeric: [{ name: "p", bucket: "none" as const, missing: 0 }] };
  const big = `4${"0".repeat(60)}`;
  const r = await readAll(file(`y,p\n1,${big}\n0,-1e39\n1,3e38\n`), { schema, skipBadRows: true, maxBadRows: { count: 2 } });
  assert.equal(r.rows, 1);
  assert.match(r.bad[0], /:2: column 2: "40000.*" is not a finite number in the float32 range$/);
  assert.match(r.bad[1], /:3: column 2: "-1e39" is not a finite number in the float32 range$/);
  assert.throws(() => loadSchema({ ...schema, numeric: [{ name: "p", missing: 1e39 }] }), /numeric\[0\].missing must be a finite number/);
});

test("lineBlocks: a long line costs linear time (was quadratic: 2.5 s for 64 MiB), and any chunking gives the same lines", async () => {
  const mb = Buffer.alloc(1 << 20, 97);
  async function* long(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 60; i++) yield mb;
    yield Buffer.from("\nx\r\n");
  }
  const t0 = performance.now();
  const got: number[] = [];
  for await (const blk of lineBlocks(long(), false, "long.txt")) for (let k = 0; k < blk.count; k++) got.push(blk.ends[k] - blk.starts[k]);
  assert.deepEqual(got, [60 << 20, 1]);
  assert.ok(performance.now() - t0 < 1500, `${(performance.now() - t0).toFixed(0)} ms`);
  // Lines, CRLF and quoted newlines cut anywhere by the chunking: the same lines, at the same stream offsets, as one chunk gives.
  const r = new Rand(5);
  for (let c = 0; c < 300; c++) {
    const text = Array.from({ length: r.range(1, 12) }, () => r.pick(["a,b", "\"x\ny\"", "\r", "\"\"", "", "\"q\r\n\"z", "12,\"3\""])).join(r.pick(["\n", "\r\n"])) + r.pick(["", "\n", "\r\n", "\r"]);
    const bytes = Buffer.from(text);
    for (const quote of [false, true]) {
      const lines = async (cuts: number[]): Promise<string[]> => {
        async function* chunks(): AsyncGenerator<Buffer> {
          let a = 0;
          for (const b of [...cuts, bytes.length]) { if (b > a) yield Buffer.from(bytes.subarray(a, b)); a = b; }
        }
        const out: string[] = [];
        for await (const blk of lineBlocks(chunks(), quote)) for (let k = 0; k < blk.count; k++) out.push(`${blk.firstLine + k}@${blk.offset + blk.starts[k]}:${blk.buf.toString("latin1", blk.starts[k], blk.ends[k])}`);
        return out;
      };
      const cuts = Array.from({ length: r.int(6) }, () => r.int(bytes.length + 1)).sort((x, y) => x - y);
      assert.deepEqual(await lines(cuts), await lines([]), `${JSON.stringify(text)} cut at ${cuts}, quote ${quote}`);
    }
  }
});

test("hashInt of integers too long for its digit buffer hashes their spelling (was bytes read before the buffer)", () => {
  const a = new Uint32Array(2), b = new Uint32Array(2), c = new Uint32Array(2);
  hashInt(3, -1e30, a, 0);
  const t = new TextEncoder().encode("-1e+30");
  hashKey(3, t, 0, t.length, b, 0);
  assert.deepEqual(a, b);
  hashInt(3, -2e30, c, 0);
  assert.notDeepEqual(a, c);
  // Integers that fit keep their keys: the decimal digits.
  hashInt(3, -123456789012345, a, 0);
  const u = new TextEncoder().encode("-123456789012345");
  hashKey(3, u, 0, u.length, b, 0);
  assert.deepEqual(a, b);
});

// ---------------------------------------------------------------- states

test("an empty table's state loads (its empty id part made the native CRC-32 restart at 0: 'checksum mismatch')", () => {
  for (const name of ["adam", "sgd", "group-adagrad"] as const) {
    const t = createOptimizer(name).table({ rowLength: 2 });
    const u = SparseTable.load(t.save());
    assert.equal(u.size, 0);
    u.step([7], new Float32Array(2).fill(0.1));
    assert.equal(u.size, 1);
  }
  const empty = new Uint8Array(new BigUint64Array(4).slice(0, 0).buffer);
  assert.deepEqual(openEnvelope(encodeEnvelope({ a: 1 }, [empty, new Uint8Array([1, 2]), empty])).body, new Uint8Array([1, 2]));
  assert.doesNotThrow(() => decodeEnvelope(encodeEnvelope({ a: 1 }, [new Uint8Array([1]), empty]), "x"));
});

/** The envelope of bytes with its header edited and re-sealed (a valid CRC). */
function edited(bytes: Uint8Array, edit: (h: Record<string, unknown>, body: Uint8Array) => void): Uint8Array {
  const { header, body } = openEnvelope(bytes);
  edit(header, body);
  return sealEnvelope(JSON.stringify(header), body);
}

test("table state: a record header that does not fit the step or the weights is refused (was out-of-range bias reads: wasm read other memory, ts gave zeros)", () => {
  for (const backend of ["wasm", "ts"] as const) {
    const t = createOptimizer("group-adam", { l21: 1e-3, rowStep: "per-row" }).table({ rowLength: 4 });
    for (let s = 0; s < 3; s++) t.step([1, 2, 3], new Float32Array(12).fill(0.1));
    const saved = t.save();
    const at = (word: number, v: number) => edited(saved, (h, body) => new DataView(body.buffer).setUint32((h.size as number) * 8 + word, v, true));
    assert.throws(() => SparseTable.load(at(H_TAU, 0xffffffff), backend), /^RangeError: sparse table state: row 0 \(id 1\) has zero flag 0, last step 4294967295 and 3 updates, which do not fit its non-zero weights and step 3$/);
    assert.throws(() => SparseTable.load(at(H_COUNT, 4), backend), /last step 3 and 4 updates/);
    assert.throws(() => SparseTable.load(at(H_FLAGS, 1), backend), /has zero flag 1/);
    assert.throws(() => SparseTable.load(edited(saved, (h) => { h.hyper = 5; }), backend), /^TypeError: sparse table state: group-adam: hyperparameters must be an object$/);
    assert.throws(() => SparseTable.load(edited(saved, (h) => { h.init = { normal: -1 }; }), backend), /^RangeError: sparse table state: group-adam: init/);
    assert.throws(() => SparseTable.load(edited(saved, (h) => { delete h.size; }), backend), /^RangeError: sparse table state: header field "size" is missing/);
    const u = SparseTable.load(saved, backend);
    assert.equal(u.size, 3);
    u.step([1, 2, 3], new Float32Array(12).fill(0.1));
  }
});

test("dense state: a record header that does not fit the step or the weights is refused; constructor errors name the state", () => {
  const p = createOptimizer("adam").dense(new Float32Array([0.5, 0.5, 0.5, 0, 0, 0]), { rows: 2, rowLength: 3 });
  p.step(new Float32Array([0.1, 0.1, 0.1, 0, 0, 0]));
  const saved = p.save();
  const stride = openEnvelope(saved).header.recordBytes as number;
  const at = (row: number, word: number, v: number) => edited(saved, (_h, body) => new DataView(body.buffer).setUint32(24 + row * stride + word, v, true));
  assert.throws(() => DenseParam.load(at(0, H_TAU, 0xffffffff)), /^RangeError: dense parameter state: row 0 has zero flag 0, last step 4294967295 and 1 updates/);
  assert.throws(() => DenseParam.load(at(1, H_FLAGS, 0)), /row 1 has zero flag 0, .* its zero weights/);
  assert.throws(() => DenseParam.load(edited(saved, (_h, body) => new DataView(body.buffer).setFloat32(0, NaN, true))), /^RangeError: dense parameter state: adam: initial value at row 0, column 0 is NaN$/);
  assert.throws(() => DenseParam.load(edited(saved, (h) => { h.hyper = { lr: -1 }; })), /^RangeError: dense parameter state: adam: hyperparameter lr/);
  DenseParam.load(saved).step(new Float32Array(6).fill(0.1));
});

const MODELS: TrainSettings[] = [
  { model: "lr", optimizer: "ftrl" },
  { model: "mlp", optimizer: "adam", modelConfig: { embedding: 2, hidden: [4, 3] } },
  { model: "dcn", optimizer: "adam", modelConfig: { embedding: 2, hidden: [4], crossLayers: 3 } },
  { model: "deepfm", optimizer: "adam", modelConfig: { embedding: 2, hidden: [5] } },
  { model: "opnn", optimizer: "adam", modelConfig: { embedding: 2, hidden: [4, 3] } },
];
const FIELDS = ["f0", "f1", "f2"];

test("minParamValues is the parameter count of every model (the bound the loaders check before building)", () => {
  for (const s of [...MODELS, { model: "dcn", optimizer: "adam" } as TrainSettings, { model: "opnn", optimizer: "adam" } as TrainSettings]) {
    const m = buildModel(FIELDS.length, s);
    const count = m.params.reduce((a, p) => a + p.value.length, 0);
    assert.equal(minParamValues(s.model, resolveConfig(s.model, { ...(s.modelConfig ?? {}), fields: FIELDS.length })), count, s.model);
  }
});

test("model file: a hostile config, input or parameter list is refused before the model is built (was 'Invalid typed array length', 'Cannot read properties of null')", async () => {
  const m = buildModel(FIELDS.length, MODELS[2]);
  const bytes = encodeModel(m, { format: "csv", fields: FIELDS });
  const bad = (edit: (h: Record<string, unknown>, body: Uint8Array) => void) => edited(bytes, edit);
  const cfg = (h: Record<string, unknown>) => h.config as Record<string, unknown>;
  const [, mb] = await peakRise(() => {
    assert.throws(() => Predictor.decode(bad((h) => { cfg(h).hidden = [1e7]; })), /^RangeError: model: the dcn config .* needs 80000043 parameter values, the file holds 75$/);
    assert.throws(() => Predictor.decode(bad((h) => { cfg(h).crossLayers = 1e9; })), /needs 12000000039 parameter values/);
    assert.throws(() => Predictor.decode(bad((h) => { cfg(h).embedding = 1e5; })), /needs \d+ parameter values/);
  });
  assert.ok(mb < 64, `peak resident set +${mb.toFixed(0)} MB`);
  assert.throws(() => Predictor.decode(bad((h) => { h.input = null; })), /^RangeError: model: header field "input" is not an object$/);
  assert.throws(() => Predictor.decode(bad((h) => { (h.input as Record<string, unknown>).fields = ["a"]; })), /config.fields = 3, the input has 1 fields/);
  assert.throws(() => Predictor.decode(bad((h) => { (h.params as unknown[])[0] = null; })), /^RangeError: model: parameter entry null is not/);
  assert.throws(() => Predictor.decode(bad((h) => { (h.tables as unknown[])[0] = 7; })), /a table entry is not/);
  assert.throws(() => Predictor.decode(bad((h) => { cfg(h).dropout = 2; })), /^RangeError: model: dcn: dropout must be in \[0, 1\), got 2$/);
  assert.throws(() => Predictor.decode(bad((_h, body) => new DataView(body.buffer).setFloat32(4, Infinity, true))), /parameter cross.0.w holds Infinity at 1/);
  assert.equal(Predictor.decode(bytes).input.fields.length, 3);
});

test("checkpoint: hostile settings are refused before the model is built (was 'out of WebAssembly memory' and messages naming no checkpoint)", async () => {
  const m = buildModel(FIELDS.length, MODELS[1]);
  const out = join(dir, "ckpt");
  mkdirSync(out);
  writeCheckpoint(out, m, { settings: m.settings, fields: FIELDS, format: "csv", params: m.params.map((p) => p.name), position: startPosition(), run: testRun(), data: { path: "x", size: 0, mtimeMs: 0 } });
  const bytes = new Uint8Array(readFileSync(join(out, CHECKPOINT_FILE)));
  const what = "ckpt";
  const settings = (h: Record<string, unknown>) => h.settings as Record<string, unknown>;
  const [, mb] = await peakRise(() => {
    assert.throws(() => decodeCheckpoint(edited(bytes, (h) => { settings(h).modelConfig = { embedding: 2, hidden: [1e7, 3] }; }), what), /^RangeError: ckpt: the mlp settings need \d+ dense parameter values, the dense states hold at most \d+$/);
    assert.throws(() => decodeCheckpoint(edited(bytes, (h) => { h.fields = Array.from({ length: 100_000 }, () => "f"); }), what), /need \d+ dense parameter values/);
  });
  assert.ok(mb < 64, `peak resident set +${mb.toFixed(0)} MB`);
  assert.throws(() => decodeCheckpoint(edited(bytes, (h) => { settings(h).batch = 0; }), what), /^RangeError: ckpt: settings.batch = 0 is not an integer in \[1, 1048576\]$/);
  assert.throws(() => decodeCheckpoint(edited(bytes, (h) => { settings(h).model = "x"; }), what), /^RangeError: ckpt: settings.model = "x" is not one of mlp, opnn, dcn, lr, deepfm$/);
  const [, shardMb] = await peakRise(() => assert.throws(() => decodeCheckpoint(edited(bytes, (h) => { settings(h).shards = 1e6; }), what), /^RangeError: ckpt: settings.shards = 1000000 is not an integer in \[1, 64\]$/));
  assert.ok(shardMb < 64, `peak resident set +${shardMb.toFixed(0)} MB`);
  assert.throws(() => decodeCheckpoint(edited(bytes, (h) => { settings(h).hyper = 5; }), what), /^RangeError: ckpt: settings.hyper is not an object$/);
  assert.throws(() => decodeCheckpoint(edited(bytes, (h) => { settings(h).modelConfig = { hidden: [4, 3], crossLayers: 1 }; }), what), /^RangeError: ckpt: mlp: setting "crossLayers" does not apply/);
  assert.throws(() => decodeCheckpoint(edited(bytes, (h) => { (h.run as { files: Record<string, unknown> }).files.train = [5]; }), what), /^RangeError: ckpt: run.files.train = \[5\] is not a list of strings$/);
  assert.throws(() => decodeCheckpoint(edited(bytes, (h) => { (h.run as Record<string, unknown>).monitor = "acc"; }), what), /^RangeError: ckpt: run.monitor = "acc" is not one of auc, logloss$/);
  assert.throws(() => decodeCheckpoint(edited(bytes, (h) => { settings(h).hyper = { lr: 0.1, l12: 1 }; }), what), /^RangeError: ckpt: settings.hyper: unknown hyperparameter "l12"$/);
  assert.equal(decodeCheckpoint(bytes, what).model.params.length, m.params.length);
});

test("saved states with a NaN or an Infinity in a weight, a moment or the last learning rate are refused", async () => {
  const { createOptimizer } = await import("../../src/index.js");
  const { SparseTable } = await import("../../src/optim/table.js");
  const { DenseParam } = await import("../../src/optim/dense.js");
  const { decodeEnvelope, encodeEnvelope } = await import("../../src/io/envelope.js");
  const { HEADER_BYTES } = await import("../../src/kernels/layout.js");
  const reseal = (bytes: Uint8Array, edit: (body: Uint8Array) => void): Uint8Array => {
    const { header, body } = decodeEnvelope(bytes, "test");
    const b = body.slice();
    edit(b);
    return encodeEnvelope(header, [b]);
  };
  const opt = createOptimizer("group-adam", { lr: 0.01 });
  const t = opt.table({ rowLength: 4, seed: 1 });
  t.gather([5n, 6n]);
  t.step([5n, 6n], Float32Array.from({ length: 8 }, (_, i) => i - 3.5));
  const saved = t.save(), rec = t.recordBytes;
  // Body: 2 keys (16 bytes), then the records; poison a moment of row 1, then its lr.
  for (const off of [16 + rec + HEADER_BYTES + 4 * 4 + 4, 16 + rec + 4]) {
    for (const v of [NaN, Infinity]) {
      const bad = reseal(saved, (b) => new DataView(b.buffer, b.byteOffset).setFloat32(off, v, true));
      assert.throws(() => SparseTable.load(bad), /row 1 \(id 6\) holds a non-finite value/);
    }
  }
  assert.equal(SparseTable.load(saved).size, 2);
  const d = opt.dense(new Float32Array([1, 2, 3, 4]), { rows: 1, rowLength: 4 });
  d.step(new Float32Array([0.1, 0.2, 0.3, 0.4]));
  const ds = d.save();
  const { body } = decodeEnvelope(ds, "test");
  const poisoned = reseal(ds, (b) => new DataView(b.buffer, b.byteOffset).setFloat32(body.length - 4, NaN, true));
  assert.throws(() => DenseParam.load(poisoned), /row 0 holds a non-finite value/);
  assert.throws(() => DenseParam.load(reseal(ds, (b) => new DataView(b.buffer, b.byteOffset).setFloat32(0, -Infinity, true))), /dense parameter state: .*-Infinity/);
});
