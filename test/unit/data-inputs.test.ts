// The readers' wider inputs, against hand-computed or brute-force keys
// (featureKey): -1/+1 labels, libsvm feature values and multi-valued fields
// (Batch.bags), CSV multi-valued columns, headerless Avazu, several files read
// as one (parts, ranges, splits, prefetch), headerless CSV with a label column
// and no schema, and the bad-row limit with onSkip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openData, prefetched, detectFormat, featureKey, holdoutSplit, DataError, type Batch, type DataFile, type ReadOptions } from "../../src/index.js";
import { allocBatch, trimBatch } from "../../src/data/batch.js";
import { batchBuffers } from "../../src/data/prefetch-protocol.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-inputs-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let nFiles = 0;
/** Writes a fixture file and returns its path. */
function file(text: string, name = `f${nFiles++}.txt`): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** One slot's keys with their values. */
type Slot = [bigint, number][];
interface Read { file: DataFile; batches: Batch[]; labels: number[]; rows: Slot[][]; lines: number[]; parts: number[] }

/** Every row of a pass, slot by slot, unrolled from either layout. */
async function read(paths: string | string[], opts: ReadOptions & { prefetch?: number | boolean } = {}, range?: { start?: number; end?: number }): Promise<Read> {
  const { prefetch, ...rest } = opts;
  const f = prefetched(await openData(paths, rest), prefetch ?? false);
  const F = f.fields.length, out: Read = { file: f, batches: [], labels: [], rows: [], lines: [], parts: [] };
  for await (const b of f.batches(range)) {
    out.batches.push(b);
    for (let r = 0; r < b.rows; r++) {
      const row: Slot[] = [];
      for (let k = 0; k < F; k++) {
        const s = r * F + k, a = b.bags ? b.bags.offsets[s] : s, e = b.bags ? b.bags.offsets[s + 1] : s + 1;
        const slot: Slot = [];
        for (let j = a; j < e; j++) slot.push([b.keys[j], b.bags ? b.bags.values[j] : 1]);
        row.push(slot);
      }
      out.rows.push(row);
      out.labels.push(b.labels[r]);
      out.lines.push(b.lines[r]);
      out.parts.push(b.part ?? 0);
    }
  }
  return out;
}

/** The slot of one key of value 1; of the field's missing value. */
const one = (f: number, v: string): Slot => [[featureKey(f, v), 1]];
const miss = (f: number): Slot => one(f, "");

test("libsvm/libfm labels: 0/1, -1/+1 and their decimal spellings; detection; CSV -1/+1; Criteo and Avazu stay 0/1", async () => {
  const spell = ["-1", "+1", "1", "0", "-1.0", "1.0", "+1.0", "0.0", "-1.00"];
  const p = file(spell.map((l, i) => `${l} ${i}:1 7:1`).join("\n") + "\n");
  const r = await read(p);
  assert.equal(r.file.format, "libsvm");
  assert.deepEqual(r.labels, [0, 1, 1, 0, 0, 1, 1, 0, 0]);
  for (const first of ["-1 3:1", "+1.0 3:1 4:0.5", "-1.0 0:1.0"]) assert.equal(await detectFormat(file(first + "\n")), "libsvm", first);
  for (const bad of ["2", "-0", "+0", "1.5", "1.", "--1", "0.1"]) {
    await assert.rejects(read(file(`1 0:1\n${bad} 0:1\n`), { format: "libsvm" }), new RegExp(`:2: column 1: label "${bad.replace(/[.+]/g, "\\$&")}" is not 0 or 1`), bad);
  }
  const csv = await read(file("y,a\n-1,x\n+1,y\n0,z\n1.0,w\n"), { schema: { label: "y", categorical: ["a"] } });
  assert.deepEqual(csv.labels, [0, 1, 0, 1]);
  const CRITEO = (l: string): string => [l, ...Array(39).fill("")].join("\t");
  await assert.rejects(read(file(`${CRITEO("1")}\n${CRITEO("-1")}\n`), { format: "criteo" }), /:2: column label: label "-1" is not 0 or 1/);
  await assert.rejects(read(file(`${avazuRow(1, "-1", "14102100")}\n`), { format: "avazu" }), /:1: column click: label "-1" is not 0 or 1/);
});

// A featindex of fields a (0, 1), b (2, 3), c (4).
const FEATINDEX = "a:x\t0\na:y\t1\nb:u\t2\nb:v\t3\nc:w\t4\n";

test("libsvm feature values scale their feature; 0 is absent; several indices of a field make a multi-valued slot", async () => {
  const featindex = file(FEATINDEX);
  const rows = ["1 0:1 2:1 4:1", "1 1:1.0 3:1 4:1", "0 0:0.5 2:1", "1 0:0 3:2", "1 0:1 1:1 2:1", "0 4:-1.5e0 1:1 0:3"];
  const r = await read(file(rows.join("\n")), { featindex, batchSize: 2 });
  assert.deepEqual(r.rows, [
    [one(0, "x"), one(1, "u"), one(2, "w")],
    [one(0, "y"), one(1, "v"), one(2, "w")],
    [[[featureKey(0, "x"), 0.5]], one(1, "u"), miss(2)],
    [miss(0), [[featureKey(1, "v"), 2]], miss(2)],
    [[...one(0, "x"), ...one(0, "y")], one(1, "u"), miss(2)],
    // Within a slot the row's order; values other than 1 kept.
    [[...one(0, "y"), [featureKey(0, "x"), 3]], miss(1), [[featureKey(2, "w"), -1.5]]],
  ]);
  // A batch of one key of value 1 per slot only keeps the plain layout.
  assert.deepEqual(r.batches.map((b) => b.bags !== undefined), [false, true, true]);
  assert.equal(r.batches[0].keys.length, 6);
  // Without a featindex the k-th token is field k, a 0-valued one included (its slot: the missing key).
  const nf = await read(file("1 5:1 7:0.5 9:0\n0 5:1 7:1 9:1\n"));
  assert.deepEqual(nf.rows, [
    [one(0, "5"), [[featureKey(1, "7"), 0.5]], miss(2)],
    [one(0, "5"), one(1, "7"), one(2, "9")],
  ]);
  // A row that is one-hot once 0s and 1 spellings are read (1.00, 1e0) stays plain.
  assert.equal((await read(file("1 5:1.00 7:1e0 9:0\n"))).batches[0].bags, undefined);
  for (const [v, why] of [["inf", "is not a number"], ["1e999", "is not a finite number"], ["3e39", "is not a finite number in the float32 range"], ["", "is not a number"], ["0x1", "is not a number"], ["NaN", "is not a number"]]) {
    await assert.rejects(read(file(`1 0:1 2:1\n0 2:1 0:${v}\n`), { featindex }), (e: unknown) => e instanceof DataError && e.line === 2 && e.column === 3 && e.message.includes(`value "${v}" of index 0 ${why}`), v);
  }
  await assert.rejects(read(file("1 0:1 9:2\n"), { featindex }), /:1: column 3: index 9 is not in the featindex/);
});

test("CSV multi-valued columns through schema separators; the separators are checked", async () => {
  const schema = { label: "y", categorical: ["a", "tags"], separators: { tags: "|" } };
  const p = file('y,a,tags\n1,x,p|q|r\n0,x,\n1,x,p||q|\n0,"a,b",|\n1,x,"s|t,u"\n0,x,p\n');
  const r = await read(p, { schema, batchSize: 6 });
  assert.deepEqual(r.rows.map((row) => row[1]), [
    [...one(1, "p"), ...one(1, "q"), ...one(1, "r")], miss(1), [...one(1, "p"), ...one(1, "q")], miss(1),
    [...one(1, "s"), ...one(1, "t,u")], one(1, "p"),
  ]);
  assert.deepEqual(r.rows.map((row) => row[0]), [one(0, "x"), one(0, "x"), one(0, "x"), one(0, "a,b"), one(0, "x"), one(0, "x")]);
  assert.ok(r.batches[0].bags);
  // Cells without a separator: the plain layout and the keys of a schema without separators.
  const plain = file("y,a,tags\n1,x,p\n0,x,\n");
  const withSep = await read(plain, { schema });
  assert.equal(withSep.batches[0].bags, undefined);
  assert.deepEqual(withSep.rows, (await read(plain, { schema: { label: "y", categorical: ["a", "tags"] } })).rows);
  for (const [sep, re] of [
    [{ y: "|" }, /separators: column "y" is not a categorical column/],
    [{ nope: "|" }, /column "nope" is not a categorical column/],
    [{ tags: "," }, /must not be the delimiter, a quote or a line end/],
    [{ tags: '"' }, /must not be the delimiter/],
    [{ tags: "\n" }, /must not be the delimiter/],
    [{ tags: "||" }, /must be one ASCII character/],
    [{ tags: "\u00a6" }, /must be one ASCII character/],
    [["|"], /"separators" must be an object/],
  ] as const) await assert.rejects(openData(p, { schema: { ...schema, separators: sep as never } }), re, JSON.stringify(sep));
});

/** An Avazu row: 24 columns, the others derived from i. */
function avazuRow(i: number, click: string, hour: string): string {
  return [`${1000 + i}`, click, hour, "1005", `${i % 2}`, ...Array.from({ length: 19 }, (_, k) => `v${(i * 7 + k) % 5}`)].join(",");
}
const AVAZU_HEADER = "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21";

test("Avazu files without the header line: detected, and the same keys as with it", async () => {
  const rows = Array.from({ length: 7 }, (_, i) => avazuRow(i, String(i % 2), i < 4 ? "14102123" : "14102200"));
  const withHeader = file([AVAZU_HEADER, ...rows].join("\n") + "\n"), without = file(rows.join("\n") + "\n");
  assert.equal(await detectFormat(without), "avazu");
  const a = await read(withHeader), b = await read(without);
  assert.equal(b.file.format, "avazu");
  assert.deepEqual([a.file.header, b.file.header], [true, false]);
  assert.deepEqual(b.rows, a.rows);
  assert.deepEqual(b.lines, a.lines.map((l) => l - 1));
  // Brute force: hour of day, weekday (2014-10-21 a Tuesday), then the 21 columns.
  const cols = rows[5].split(",");
  assert.deepEqual(b.rows[5], [one(0, "0"), one(1, "3"), ...cols.slice(3).map((v, f) => one(f + 2, v))]);
  assert.deepEqual(b.rows[0].slice(0, 2), [one(0, "23"), one(1, "2")]);
  assert.deepEqual(await holdoutSplit(b.file, { lastDay: true }), { total: 7, train: { start: 0, end: 4 }, test: { start: 4, end: 7 } });
  // Not Avazu: 23 columns, a label 2, a 6-digit hour.
  for (const bad of [rows[0].replace(/,[^,]*$/, ""), rows[0].replace(",1,", ",2,").replace(",0,", ",2,"), rows[0].replace("14102123", "141021")]) {
    await assert.rejects(detectFormat(file(bad + "\n")), /cannot detect the format/);
  }
  await assert.rejects(openData(file("id,click,hourr\n" + rows[0]), { format: "avazu" }), /:1: the header is not Avazu's/);
});

test("several files read as one: parts, lines, ranges, seen, errors, stats, holdout splits", async () => {
  const CRITEO = (l: number, c: string): string => [String(l), ...Array(13).fill(""), c, ...Array(25).fill("")].join("\t");
  const a = file([0, 1, 2].map((i) => CRITEO(i % 2, `a${i}`)).join("\n")), empty = file("");
  const c = file([0, 1, 2, 3].map((i) => CRITEO(1, `c${i}`)).join("\n") + "\n");
  const r = await read([a, empty, c], { format: "criteo", batchSize: 2 });
  assert.deepEqual(r.file.paths, [a, empty, c]);
  assert.equal(r.file.path, a);
  assert.deepEqual(r.batches.map((b) => [b.rows, b.part, b.seen]), [[2, 0, 2], [1, 0, 3], [2, 2, 5], [2, 2, 7]]);
  assert.deepEqual(r.lines, [1, 2, 3, 1, 2, 3, 4]);
  assert.deepEqual(r.rows.map((row) => row[13]), ["a0", "a1", "a2", "c0", "c1", "c2", "c3"].map((v) => one(13, v)));
  assert.deepEqual(r.file.stats, { rows: 7, skipped: 0, firstBad: [], seen: 7 });
  // Ranges index the concatenation; a pass restarted at a batch's seen continues with the next batch.
  const mid = await read([a, empty, c], { format: "criteo", batchSize: 2 }, { start: 2, end: 6 });
  assert.deepEqual(mid.rows.map((row) => row[13]), ["a2", "c0", "c1", "c2"].map((v) => one(13, v)));
  assert.deepEqual(mid.parts, [0, 2, 2, 2]);
  const rest = await read([a, empty, c], { format: "criteo", batchSize: 2 }, { start: r.batches[1].seen });
  assert.deepEqual(rest.rows, r.rows.slice(3));
  assert.deepEqual(await holdoutSplit(r.file, { lastRows: 3 }), { total: 7, train: { start: 0, end: 4 }, test: { start: 4, end: 7 } });
  // Errors and skipped rows name their own file and line.
  const bad = file([CRITEO(1, "b0"), "oops", CRITEO(0, "b2")].join("\n"));
  await assert.rejects(read([a, bad], { format: "criteo" }), (e: unknown) => e instanceof DataError && e.file === bad && e.line === 2);
  const sk = await read([bad, a, bad], { format: "criteo", skipBadRows: true, maxBadRows: { count: 2 } });
  assert.equal(sk.rows.length, 7);
  assert.deepEqual(sk.file.stats.firstBad.map((e) => [e.file, e.line]), [[bad, 2], [bad, 2]]);
  assert.deepEqual({ ...sk.file.stats, firstBad: [] }, { rows: 7, skipped: 2, firstBad: [], seen: 9 });
  // Avazu: a header in one file and not in the other; the last day starts in the second file.
  const h1 = file([AVAZU_HEADER, avazuRow(0, "0", "14102100"), avazuRow(1, "1", "14102100")].join("\n") + "\n");
  const h2 = file([avazuRow(2, "0", "14102100"), avazuRow(3, "1", "14102200"), avazuRow(4, "0", "14102201")].join("\n") + "\n");
  const av = await read([h1, h2]);
  assert.deepEqual(av.file.headers, [true, false]);
  assert.deepEqual(av.lines, [2, 3, 1, 2, 3]);
  assert.deepEqual(await holdoutSplit(av.file, { lastDay: true }), { total: 5, train: { start: 0, end: 3 }, test: { start: 3, end: 5 } });
  // Files that do not match the first are refused, naming the file.
  await assert.rejects(openData([a, h2]), (e: unknown) => e instanceof Error && e.message.startsWith(`${h2}: its format is avazu, ${a}'s criteo`));
  await assert.rejects(openData([file("1 1:1 2:1\n"), file("1 1:1\n")]), /f\d+\.txt:1: the first row has 1 features, .*'s 2/);
  const s1 = file("y,a,b\n1,x,y\n"), s2 = file("y,b,a\n1,x,y\n");
  await assert.rejects(openData([s1, s2], { schema: { label: "y", categorical: ["a", "b"] } }), (e: unknown) => e instanceof DataError && e.file === s2 && /key fields \(b, a\) are not those of/.test(e.message));
  await assert.rejects(openData([]), /non-empty array/);
});

test("prefetch gives the same batches over several files, with bags and parts, and the same stats", async () => {
  const featindex = file(FEATINDEX);
  const rows = (n: number, seed: number): string => Array.from({ length: n }, (_, i) => {
    const k = (i * 31 + seed) % 7;
    return `${k % 2 ? "-1" : "+1"} 0:${k === 3 ? "0.25" : "1"} ${k === 5 ? "1:1 " : ""}2:1${k === 6 ? " 4:0" : " 4:1"}${k === 1 ? " x:1" : ""}`;
  }).join("\n") + "\n";
  const paths = [file(rows(700, 1)), file("1 0:1 2:1 4:1\n".repeat(150)), file(rows(333, 4))];
  for (const opts of [{ batchSize: 64 }, { batchSize: 100, skipBadRows: true, maxBadRows: { fraction: 0.2 } }] as ReadOptions[]) {
    const seen: string[][] = [[], []];
    const got = [];
    for (const [k, prefetch] of [false, 2].entries()) {
      const r = await read(paths, { ...opts, format: "libsvm", featindex, prefetch, onSkip: (e) => seen[k].push(`${e.file}:${e.line}`) }, undefined).catch((e: Error) => e);
      got.push(r);
    }
    const [direct, pre] = got as (Read | Error)[];
    if (!opts.skipBadRows) {
      assert.ok(direct instanceof Error && pre instanceof Error, "a bad row stops both passes");
      assert.equal(pre.message, direct.message);
      continue;
    }
    assert.ok(!(direct instanceof Error) && !(pre instanceof Error), String(direct instanceof Error ? direct : pre));
    assert.ok(direct.batches.some((b) => b.bags) && direct.batches.some((b) => !b.bags));
    assert.deepEqual(pre.batches, direct.batches);
    assert.deepEqual(pre.file.stats, direct.file.stats);
    assert.equal(direct.file.stats.skipped, seen[0].length);
    assert.deepEqual(seen[1], seen[0]);
    assert.deepEqual([...new Set(direct.parts)], [0, 1, 2]);
    assert.ok(direct.batches.every((b) => (b.part === 1) === !b.bags), "the plain file's batches only have no bags");
  }
});

test("allocBatch and trimBatch carry bags and part; batchBuffers hands the bags' buffers over", () => {
  const b = allocBatch(4, 2, 1, { bagKeys: 20, part: 3 });
  assert.equal(b.part, 3);
  assert.deepEqual([b.keys.length, b.bags!.offsets.length, b.bags!.values.length], [20, 9, 20]);
  b.bags!.offsets.set([0, 1, 3, 4, 5]);
  const t = trimBatch(b, 2, 2, 1);
  assert.deepEqual([t.rows, t.part, t.keys.length, t.keyWords.length, t.bags!.offsets.length, t.bags!.values.length], [2, 3, 5, 10, 5, 5]);
  const bufs = batchBuffers(t);
  assert.ok(bufs.includes(t.bags!.offsets.buffer as ArrayBuffer) && bufs.includes(t.bags!.values.buffer as ArrayBuffer));
  assert.equal(allocBatch(2, 2, 0).bags, undefined);
});

test("headerless CSV with a label column and no schema: the schema is built from the first line and exposed", async () => {
  const tsv = file("a\t1\tb;c\nd\t-1\t\n");
  const r = await read(tsv, { labelColumn: 1 });
  assert.equal(r.file.format, "csv");
  assert.deepEqual(r.file.schema, { delimiter: "\t", header: false, columns: ["c0", "c1", "c2"], label: "c1", categorical: ["c0", "c2"], numeric: [], ignore: [] });
  assert.deepEqual(r.file.fields, ["c0", "c2"]);
  assert.deepEqual(r.labels, [1, 0]);
  assert.deepEqual(r.rows, [[one(0, "a"), one(1, "b;c")], [one(0, "d"), miss(1)]]);
  // A tab and a comma in the first line: comma-separated.
  assert.equal((await openData(file("a\t1,b\n"), { labelColumn: 1 })).schema!.delimiter, ",");
  // The exposed schema reads the file the same way (what a model records for predict).
  assert.deepEqual((await read(tsv, { schema: r.file.schema })).rows, r.rows);
  assert.deepEqual((await read(tsv, { labelColumn: 1, prefetch: true })).rows, r.rows);
  const csv = await read(file('0,x,"y\tz"\n1,,w\n'), { labelColumn: 0 });
  assert.equal(csv.file.schema!.delimiter, ",");
  assert.deepEqual(csv.rows, [[one(0, "x"), one(1, "y\tz")], [miss(0), one(1, "w")]]);
  await assert.rejects(openData(tsv, { labelColumn: 3 }), /f\d+\.txt:1: labelColumn 3 is not a column of the first line: it has 3 tab-separated columns/);
  await assert.rejects(openData(tsv, { labelColumn: -1 }), /labelColumn -1 must be a 0-based column index/);
  await assert.rejects(openData(tsv, { labelColumn: 1, schema: r.file.schema }), /either a schema or a labelColumn/);
  await assert.rejects(openData(tsv, { labelColumn: 1, format: "criteo" }), /labelColumn reads a csv file, not criteo/);
  await assert.rejects(openData(file("1\n0\n"), { labelColumn: 0 }), /no feature columns/);
  await assert.rejects(openData([tsv, file("a\t1\n")], { labelColumn: 1 }), /f\d+\.txt:1: the first line has 2 columns, .*'s 3/);
});

test("bad rows: the count and fraction limits, the message, onSkip in order with and without prefetch; libfm -1 rows all read", async () => {
  const good = (i: number): string => `${i % 2 ? "+1" : "-1"} 0:1 2:1`;
  // 20 rows, rows 3, 7, 8, 12, 19 (1-based lines 4, 8, 9, 13, 20) bad.
  const badAt = new Set([3, 7, 8, 12, 19]);
  const p = file(Array.from({ length: 20 }, (_, i) => (badAt.has(i) ? `1 0:1 2:${i}x` : good(i))).join("\n"));
  const featindex = file(FEATINDEX);
  for (const prefetch of [false, true]) {
    const lines: number[] = [];
    let yielded = 0;
    const f = prefetched(await openData(p, { featindex, batchSize: 1, skipBadRows: true, maxBadRows: { count: 4 }, onSkip: (e) => lines.push(e.line) }), prefetch);
    await assert.rejects((async () => { for await (const b of f.batches()) yielded += b.rows; })(), (e: unknown) => {
      assert.ok(e instanceof DataError, String(e));
      assert.equal(e.line, 20);
      assert.match(e.message, /too many malformed rows: 5 of 20 rows read were skipped, more than the limit of 4 rows \(maxBadRows \{ count: 4 \}\)/);
      assert.ok(e.message.includes(`the first: ${p}:4: column 3: value "3x" of index 2 is not a number; ${p}:8: column 3:`), e.message);
      assert.match(e.message, /--max-bad-rows N .*--max-bad-rows P% \(e\.g\. 5%\)/);
      return true;
    });
    assert.deepEqual(lines, [4, 8, 9, 13, 20], `prefetch ${prefetch}`);
    assert.equal(yielded, 15);
    const ok = await read(p, { featindex, skipBadRows: true, maxBadRows: { count: 5 }, prefetch });
    assert.equal(ok.file.stats.skipped, 5);
    assert.equal(ok.labels.length, 15);
  }
  // Fraction: checked from the 1000th row read on, as the pass goes (here 11 bad of the first 1000 > 1%).
  const big = file(Array.from({ length: 3000 }, (_, i) => (i < 11 ? "x" : good(i))).join("\n"));
  let seenRows = 0;
  const f = await openData(big, { format: "libsvm", featindex, batchSize: 100, skipBadRows: true });
  await assert.rejects((async () => { for await (const b of f.batches()) seenRows += b.rows; })(), /11 of 1000 rows read were skipped, more than the limit of 1% of the rows read \(maxBadRows \{ fraction: 0.01 \}\)/);
  assert.ok(seenRows <= 1000, `${seenRows} rows taken before the limit`);
  assert.equal((await read(big, { format: "libsvm", featindex, skipBadRows: true, maxBadRows: { fraction: 0.011 } })).labels.length, 2989);
  // ... and at the end of a pass of any size.
  const small = file([good(0), "junk", good(1), good(2)].join("\n"));
  await assert.rejects(read(small, { featindex, skipBadRows: true }), /1 of 4 rows read were skipped, more than the limit of 1%/);
  assert.equal((await read(small, { featindex, skipBadRows: true, maxBadRows: { fraction: 0.25 } })).labels.length, 3);
  // A libfm file of -1/+1 rows: nothing skipped.
  const libfm = await read(file(Array.from({ length: 50 }, (_, i) => good(i)).join("\n")), { featindex, skipBadRows: true });
  assert.equal(libfm.labels.length, 50);
  assert.equal(libfm.file.stats.skipped, 0);
  await assert.rejects(openData(small, { maxBadRows: { count: 1 } }), /maxBadRows limits the rows skipBadRows skips/);
  for (const m of [{ count: -1 }, { count: 1.5 }, { fraction: 2 }, { fraction: 0.1, count: 1 }, {}]) {
    await assert.rejects(openData(small, { skipBadRows: true, maxBadRows: m as never }), /maxBadRows .* must be \{ count: N \}/, JSON.stringify(m));
  }
});
