// The streaming readers on the real samples in ../shared/data and on small
// hand-written fixtures with every edge case; malformed rows raise errors
// naming file, line and column, or are skipped and counted when asked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { openData, featureKey, criteoBucket, type DataFile, type ReadOptions } from "../../src/index.js";
import { haveShared, SHARED } from "../helpers/shared.js";
import { hashCriteoInt } from "../../src/data/formats/bucket.js";
import { hashKey, hashKeyUntil } from "../../src/data/hash.js";

const haveData = haveShared("README.md");

async function readAll(path: string, opts: ReadOptions = {}): Promise<{ file: DataFile; labels: number[]; keys: bigint[][]; lines: number[]; numeric: number[][] }> {
  const file = await openData(path, opts);
  const labels: number[] = [], keys: bigint[][] = [], lines: number[] = [], numeric: number[][] = [];
  const F = file.fields.length, N = file.numeric.length;
  for await (const b of file.batches()) {
    for (let r = 0; r < b.rows; r++) {
      labels.push(b.labels[r]);
      keys.push(Array.from(b.keys.subarray(r * F, r * F + F)));
      numeric.push(Array.from(b.numeric.subarray(r * N, r * N + N)));
      lines.push(b.lines[r]);
    }
  }
  return { file, labels, keys, lines, numeric };
}

const sum = (a: number[]): number => a.reduce((s, v) => s + v, 0);

test("real samples: row and click counts and field counts match ../shared/data/README.md", { skip: !haveData && "shared data not present" }, async () => {
  const criteo = await readAll(join(SHARED, "criteo/train.txt"));
  assert.equal(criteo.file.format, "criteo");
  assert.equal(criteo.labels.length, 7200);
  assert.equal(criteo.file.fields.length, 39);
  const rate = sum(criteo.labels) / 7200;
  assert.ok(rate > 0.2 && rate < 0.27, `criteo click rate ${rate}`);
  assert.equal((await readAll(join(SHARED, "criteo/dev.txt"))).labels.length, 409);
  assert.equal((await readAll(join(SHARED, "criteo/test.txt"))).labels.length, 391);

  const avazu = await readAll(join(SHARED, "avazu/sample.csv"));
  assert.equal(avazu.file.format, "avazu");
  assert.equal(avazu.labels.length, 999);
  assert.equal(avazu.file.fields.length, 23);
  const arate = sum(avazu.labels) / 999;
  assert.ok(arate > 0.13 && arate < 0.19, `avazu click rate ${arate}`);
  assert.deepEqual(avazu.lines.slice(0, 2), [2, 3]);

  const featindex = join(SHARED, "ipinyou/featindex.fm.txt");
  const train = await readAll(join(SHARED, "ipinyou/train.fm.txt"), { featindex });
  assert.equal(train.file.format, "libsvm");
  assert.equal(train.labels.length, 26773);
  assert.equal(sum(train.labels), 255);
  assert.equal(train.file.fields.length, 16);
  const test2 = await readAll(join(SHARED, "ipinyou/test.fm.txt"), { featindex });
  assert.equal(test2.labels.length, 21150);
  assert.equal(sum(test2.labels), 50);
  // Every index resolved through featindex: no row has a field left missing.
  const missing = train.file.fields.map((_, f) => featureKey(f, ""));
  for (const row of [...train.keys, ...test2.keys]) row.forEach((k, f) => assert.notEqual(k, missing[f]));
});

test("Criteo keys follow the bucketing rule and the raw values", { skip: !haveData && "shared data not present" }, async () => {
  const path = join(SHARED, "criteo/dev.txt");
  const { keys } = await readAll(path);
  const rows = readFileSync(path, "utf8").split("\n").filter((l) => l !== "").map((l) => l.split("\t"));
  rows.forEach((cols, r) => {
    for (let f = 0; f < 39; f++) {
      const raw = cols[f + 1];
      const want = f < 13 && raw !== "" ? featureKey(f, String(criteoBucket(Number(raw)))) : featureKey(f, raw);
      assert.equal(keys[r][f], want, `row ${r} field ${f}`);
    }
  });
  assert.equal(criteoBucket(1382), Math.floor(Math.log(1382) ** 2));
  assert.equal(criteoBucket(2), 2);
  assert.equal(criteoBucket(-1), -1);
});

test("Criteo's integer keys from the tables equal the key of the bucket's decimal text, for every small value and across the tables' edges", () => {
  const out = new Uint32Array(2);
  const check = (f: number, v: number): void => {
    hashCriteoInt(f, v, out, 0);
    const want = featureKey(f, String(criteoBucket(v)));
    assert.equal((BigInt(out[1]) << 32n) | BigInt(out[0]), want, `field ${f}, value ${v}`);
  };
  for (let v = -200; v < 70_000; v++) check(v % 13, v);
  // Every bucket up to 2^53's: the values either side of where it starts.
  for (let b = 3; b <= 1_400; b++) {
    const v = Math.ceil(Math.exp(Math.sqrt(b)));
    if (v > 2 ** 53) break;
    check(b % 13, v);
    check(b % 13, v - 1);
  }
  for (const f of [0, 12, 38, 63, 64, 70]) {
    for (const v of [-1e6, -65, -64, -63, -1, 0, 1, 2, 3, 65_535, 65_536, 65_537, 1e6, 2 ** 31, 2 ** 32 + 1, 999_999_999_999_999]) check(f, v);
  }
});

test("Avazu keys are those of the raw values (hour of day, weekday, then each column as written)", { skip: !haveData && "shared data not present" }, async () => {
  const path = join(SHARED, "avazu/sample.csv");
  const { keys } = await readAll(path);
  const rows = readFileSync(path, "utf8").split("\n").slice(1).filter((l) => l !== "").map((l) => l.split(","));
  assert.equal(keys.length, rows.length);
  rows.forEach((cols, r) => {
    const hour = cols[2], day = new Date(Date.UTC(2000 + Number(hour.slice(0, 2)), Number(hour.slice(2, 4)) - 1, Number(hour.slice(4, 6))));
    assert.equal(keys[r][0], featureKey(0, String(Number(hour.slice(6, 8)))), `row ${r}: hour of day`);
    assert.equal(keys[r][1], featureKey(1, String(day.getUTCDay())), `row ${r}: weekday`);
    for (let f = 2; f < 23; f++) assert.equal(keys[r][f], featureKey(f, cols[f + 1]), `row ${r} field ${f}`);
  });
});

test("feature keys are pinned: saved models and vocabularies keep meaning what they meant", () => {
  const pinned: [number, string, bigint][] = [
    [0, "", 0x50d402518e5e3ba7n], [0, "1", 0xb4b652427c1dc802n], [12, "123", 0x248b254748ce5e1n], [13, "68fd1e64", 0xe673a733929a38c9n],
    [38, "e5ba7672", 0xb9793aa19a195009n], [2, "1005", 0x2fb6fb020b2727b8n], [22, "-1", 0x76a046047d3b6ae8n], [63, "a,b", 0xedca35114736d971n],
  ];
  for (const [f, v, k] of pinned) assert.equal(featureKey(f, v), k, `field ${f}, ${JSON.stringify(v)}`);
});

test("hashKeyUntil gives hashKey's key of the bytes before the stop byte (or the limit), and their end", () => {
  let x = 12345;
  const rnd = (n: number): number => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x % n; };
  const a = new Uint32Array(2), b = new Uint32Array(2);
  for (let k = 0; k < 5_000; k++) {
    const bytes = Uint8Array.from({ length: rnd(40) }, () => (rnd(4) === 0 ? 9 : rnd(256)));
    const start = rnd(bytes.length + 1), limit = start + rnd(bytes.length - start + 1), field = rnd(50);
    let end = start;
    while (end < limit && bytes[end] !== 9) end++;
    hashKey(field, bytes, start, end, a, 0);
    assert.equal(hashKeyUntil(field, bytes, start, limit, 9, b, 0), end);
    assert.deepEqual(b, a, `${Array.from(bytes)} [${start}, ${limit}) field ${field}`);
  }
});

test("a schema-described TSV of Criteo's columns gives exactly the Criteo reader's keys", { skip: !haveData && "shared data not present" }, async () => {
  const path = join(SHARED, "criteo/test.txt");
  const ints = Array.from({ length: 13 }, (_, i) => `I${i + 1}`), cats = Array.from({ length: 26 }, (_, i) => `C${i + 1}`);
  const schema = { delimiter: "\t", header: false, columns: ["label", ...ints, ...cats], label: "label", categorical: cats, numeric: ints.map((name) => ({ name, bucket: "criteo" })) };
  const a = await readAll(path, { format: "criteo" });
  const b = await readAll(path, { format: "csv", schema: schema as never });
  assert.deepEqual(b.file.fields, a.file.fields);
  assert.deepEqual(b.keys, a.keys);
  assert.deepEqual(b.labels, a.labels);
});

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "sparsectr-data-"));
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
}

const CRITEO_ROW = (label: number, c1: string): string => [String(label), "1", "", "5", ...Array(10).fill("0"), c1, ...Array(25).fill("")].join("\t");

test("fixtures: CRLF, no trailing newline, gzip, missing fields and quoted CSV parse the same rows", withDir(async (dir) => {
  const rows = [CRITEO_ROW(1, "68fd1e64"), CRITEO_ROW(0, ""), CRITEO_ROW(0, "abc")];
  const lf = join(dir, "lf.txt"), crlf = join(dir, "crlf.txt"), none = join(dir, "none.txt"), gz = join(dir, "x.txt.gz");
  writeFileSync(lf, rows.join("\n") + "\n");
  writeFileSync(crlf, rows.join("\r\n") + "\r\n");
  writeFileSync(none, rows.join("\n"));
  writeFileSync(gz, gzipSync(rows.join("\n") + "\n"));
  const ref = await readAll(lf);
  assert.deepEqual(ref.labels, [1, 0, 0]);
  assert.equal(ref.keys[1][13], featureKey(13, ""), "an empty C1 is C1's missing value");
  assert.equal(ref.keys[0][1], featureKey(1, ""), "an empty I2 is I2's missing value");
  for (const p of [crlf, none, gz]) assert.deepEqual((await readAll(p)).keys, ref.keys, p);

  const csv = join(dir, "q.csv");
  writeFileSync(csv, 'click,site,"price"\r\n1,"a,b",3\n0,"say ""hi""",\n1,"multi\nline",7');
  const q = await readAll(csv, { schema: { label: "click", categorical: ["site"], numeric: [{ name: "price", bucket: "none", missing: -1 }] } });
  assert.deepEqual(q.labels, [1, 0, 1]);
  assert.deepEqual(q.keys.map((k) => k[0]), [featureKey(0, "a,b"), featureKey(0, 'say "hi"'), featureKey(0, "multi\nline")]);
  assert.deepEqual(q.numeric, [[3], [-1], [7]]);
  assert.deepEqual(q.lines, [2, 3, 4]);
}));

test("fixtures: a header-only file and an empty file", withDir(async (dir) => {
  const header = join(dir, "h.csv"), empty = join(dir, "e.txt");
  writeFileSync(header, "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21\n");
  writeFileSync(empty, "");
  const h = await readAll(header);
  assert.equal(h.file.format, "avazu");
  assert.equal(h.labels.length, 0);
  await assert.rejects(openData(empty), /the file is empty/);
  const e = await readAll(empty, { format: "criteo" });
  assert.equal(e.labels.length, 0);
  await assert.rejects(openData(empty, { format: "avazu" }), /empty: a header is expected/);
}));

test("malformed rows: errors name file, line and column; --skip-bad-rows counts them", withDir(async (dir) => {
  const cases: [string, string, ReadOptions, RegExp][] = [
    ["cols.txt", [CRITEO_ROW(1, "a"), "1\t2\t3"].join("\n"), {}, /cols\.txt:2: column 4: row has 3 columns, expected 40/],
    ["label.txt", [CRITEO_ROW(1, "a"), CRITEO_ROW(1, "a").replace(/^1/, "x")].join("\n"), {}, /label\.txt:2: column label: label "x" is not 0 or 1/],
    ["label2.txt", [CRITEO_ROW(1, "a").replace(/^1/, "2")].join("\n"), { format: "criteo" }, /label2\.txt:1: column label: label "2" is not 0 or 1/],
    ["int.txt", [CRITEO_ROW(1, "a").replace("\t5\t", "\t5x\t")].join("\n"), { format: "criteo" }, /int\.txt:1: column I3: "5x" is not an integer/],
    ["svm.txt", "1 1:1 2:1\n0 1:1 x:1\n", {}, /svm\.txt:2: column 3: token "x:1" is not index:value/],
    ["svm2.txt", "1 1:1 2:1\n0 1:1 2:x5\n", {}, /svm2\.txt:2: column 3: value "x5" of index 2 is not a number/],
    ["av.csv", "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21\n1,0,14102199,a\n", {}, /av\.csv:2: column hour: "14102199" is not a valid YYMMDDHH/],
  ];
  for (const [name, text, opts, re] of cases) {
    const p = join(dir, name);
    writeFileSync(p, text);
    await assert.rejects(readAll(p, opts), re, name);
  }
  const p = join(dir, "mixed.txt");
  writeFileSync(p, [CRITEO_ROW(1, "a"), "bad", CRITEO_ROW(0, "b"), "", CRITEO_ROW(1, "c")].join("\n"));
  const r = await readAll(p, { format: "criteo", skipBadRows: true, maxBadRows: { count: 2 } });
  assert.deepEqual(r.labels, [1, 0, 1]);
  assert.equal(r.file.stats.skipped, 2);
  assert.deepEqual(r.file.stats.firstBad.map((e) => e.line), [2, 4]);
  assert.match(r.file.stats.firstBad[1].message, /mixed\.txt:4: empty line/);
}));

test("a truncated gzip file is an error, not a short read", withDir(async (dir) => {
  const full = gzipSync(Array.from({ length: 5000 }, (_, i) => CRITEO_ROW(i % 2, `v${i}`)).join("\n") + "\n");
  const p = join(dir, "cut.txt.gz");
  writeFileSync(p, full.subarray(0, Math.floor(full.length * 0.6)));
  await assert.rejects(readAll(p, { format: "criteo" }), /cut\.txt\.gz: the gzip stream is truncated or corrupt/);
}));

test("csv schemas are checked, and every column must be accounted for", withDir(async (dir) => {
  const p = join(dir, "u.csv");
  writeFileSync(p, "click,a,b\n1,x,y\n");
  await assert.rejects(openData(p, { schema: { label: "click", categorical: ["a"] } }), /u\.csv:1: columns not in the schema \(add them to "ignore" to drop them\): b/);
  await assert.rejects(openData(p, { schema: { label: "click", categorical: ["a", "zz"], ignore: ["b"] } }), /schema columns not in the file: zz/);
  await assert.rejects(openData(p, { schema: { label: "click" } }), /no feature columns/);
  await assert.rejects(openData(p, { schema: { label: "click", categorical: ["a"], ignore: ["b"], extra: 1 } as never }), /unknown field "extra"/);
  const ok = await readAll(p, { schema: { label: "click", categorical: ["a"], ignore: ["b"] } });
  assert.deepEqual(ok.keys, [[featureKey(0, "x")]]);
  await assert.rejects(openData(join(dir, "none.csv"), { schema: { label: "click", categorical: ["a"] } }), /ENOENT/);
}));

test("batches have the requested size and ranges select data rows", withDir(async (dir) => {
  const p = join(dir, "r.txt");
  writeFileSync(p, Array.from({ length: 1000 }, (_, i) => CRITEO_ROW(i % 2, `v${i}`)).join("\n"));
  const file = await openData(p, { batchSize: 128 });
  const sizes: number[] = [];
  for await (const b of file.batches()) sizes.push(b.rows);
  assert.deepEqual(sizes, [...Array(7).fill(128), 104]);
  const keys: bigint[] = [];
  for await (const b of file.batches({ start: 990, end: 995 })) for (let r = 0; r < b.rows; r++) keys.push(b.keys[r * 39 + 13]);
  assert.deepEqual(keys, [990, 991, 992, 993, 994].map((i) => featureKey(13, `v${i}`)));
}));
