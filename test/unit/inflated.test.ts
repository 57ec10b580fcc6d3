// Inflated copies of gzip files (data/inflated.ts, data/seek.ts): a scan
// with a copy folder writes each gzip file's inflated bytes to a copy and
// puts the file's seek points in it; passes from those points give the
// batches of the plain file, read the copy and not the gzip stream (also
// from row 0), and the data-parallel trainer's workers enter their parts
// there. Copies go with their points (forgotten, replaced, a failed scan)
// and at the exit of the process; a copy without room is abandoned.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { openData, type Batch, type DataFile } from "../../src/index.js";
import { forgetSeekPoints, seekPoints, type SeekPoint } from "../../src/data/seek.js";
import { copyRoom } from "../../src/data/inflated.js";
import { holdoutSplit } from "../../src/data/split.js";
import { AVAZU_HEADER } from "../../src/data/formats/avazu.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { configureLayers } from "../../src/kernels/layers/index.js";
import { buildModel, type TrainSettings } from "../../src/train/model.js";
import { trainParallel } from "../../src/train/parallel.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-inflated-test-"));
test.after(() => {
  forgetSeekPoints();
  rmSync(dir, { recursive: true, force: true });
});
let nDirs = 0;
/** A new empty folder for copies. */
const copyDir = (): string => {
  const d = join(dir, `copies${nDirs++}`);
  mkdirSync(d);
  return d;
};
/** The copies in a folder (finished or being written). */
const copiesIn = (d: string): string[] => readdirSync(d).filter((f) => f.includes("sparsectr-inflated-"));

const EVERY = 7;
const criteoRow = (i: number): string => [String(i % 3 === 0 ? 1 : 0), String(i % 11), "", String(i * 7), ...Array(10).fill(String(i % 4)), `c${i}`, ...Array(25).fill(i % 2 ? "x" : "")].join("\t");
const avazuRow = (i: number): string => [1000 + i, i % 4 === 0 ? 1 : 0, `141021${String(i % 24).padStart(2, "0")}`, 1005, 0, `s${i % 5}`, `d${i % 3}`, `c${i}`, `a${i % 7}`, "ad", "ac", `dev${i}`, `ip${i}`, `m${i % 9}`, 1, 0, 15000 + i, 320, 50, 1700 + (i % 3), 0, 35, -1, i % 100].join(",");
const lines = (n: number, row: (i: number) => string, from = 0): string => Array.from({ length: n }, (_, i) => row(from + i)).join("\n") + "\n";

/** Writes a file (text, or its gzip) and returns its path. */
function write(name: string, text: string, gzip = false): string {
  const p = join(dir, name);
  writeFileSync(p, gzip ? gzipSync(text) : text);
  return p;
}

/** A batch as plain arrays. */
const snap = (b: Batch): unknown => ({ rows: b.rows, part: b.part, seen: b.seen, labels: Array.from(b.labels), keys: Array.from(b.keys), numeric: Array.from(b.numeric), lines: Array.from(b.lines) });

/** What a pass yields and returns, or its error message. */
async function passOf(f: DataFile, range: { start?: number; end?: number }): Promise<unknown> {
  const out: unknown[] = [];
  try {
    const it = f.batches(range);
    for (;;) {
      const n = await it.next();
      if (n.done) return { out, rows: n.value.rows, seen: n.value.seen };
      out.push(snap(n.value));
    }
  } catch (e) {
    return { out, error: (e as Error).message };
  }
}

/** Starts around 0, every point and the end; ends open and near. */
function ranges(total: number, points: readonly SeekPoint[]): { start?: number; end?: number }[] {
  const starts = new Set([0, 1, total - 1, total]);
  for (const p of points) for (const d of [-1, 0, 1]) if (p.row + d >= 0) starts.add(p.row + d);
  const out: { start?: number; end?: number }[] = [{}];
  for (const start of starts) for (const end of [undefined, start + 1, start + 9]) out.push({ start, end });
  return out;
}

test("a scan with a copy folder: the gzip file's points are in its inflated copy, which holds the inflated bytes", async () => {
  const text = lines(40, criteoRow), gz = write("a.gz", text, true), d = copyDir();
  const points = await seekPoints(await openData(gz, { format: "criteo" }), EVERY, d);
  assert.equal(points.length, 6);
  const copy = points[0].inflated!;
  assert.ok(copy.startsWith(d) && points.every((p) => p.inflated === copy), "one copy, in the folder");
  assert.equal(readFileSync(copy, "latin1"), text, "the copy is the inflated file");
  const all = text.split("\n");
  for (const p of points) assert.equal(text.slice(p.byte, text.indexOf("\n", p.byte)), all[p.line - 1], `row ${p.row} at its byte of the copy`);
  assert.deepEqual(copiesIn(d), [copy.slice(d.length + 1)], "no temporary name left");
  assert.equal(statSync(copy).mode & 0o777, 0o600);
  // Without a folder: no points in the gzip file (as before), and no copy.
  const none = copyDir();
  assert.deepEqual(await seekPoints(await openData(gz, { format: "criteo" }), EVERY + 1), []);
  assert.deepEqual(copiesIn(none), []);
});

test("passes from a copy's points are the plain file's passes, for every range; several files, a header", async () => {
  const d = copyDir();
  for (const [names, make, opts] of [
    [["b.gz"], (k: number) => lines(40, criteoRow, 40 * k), { format: "criteo" as const, batchSize: 4 }],
    [["c1.gz", "c2.txt", "c3.gz"], (k: number) => lines(23 + k, criteoRow, 40 * k), { format: "criteo" as const, batchSize: 5 }],
    [["av.gz"], () => AVAZU_HEADER + "\n" + lines(45, avazuRow), { batchSize: 5 }],
  ] as const) {
    const texts = names.map((_, k) => make(k));
    const plainPaths = names.map((n, k) => write(`${n}.plain`, texts[k]));
    const paths = names.map((n, k) => write(n, texts[k], n.endsWith(".gz")));
    const points = await seekPoints(await openData(paths, opts), EVERY, d);
    assert.ok(points.some((p) => p.inflated !== undefined) && points.every((p) => (p.inflated !== undefined) === paths[p.part].endsWith(".gz")), "points in every file, the gzip ones in copies");
    const want = await openData(plainPaths, opts), got = await openData(paths, { ...opts, seek: points });
    const total = texts.reduce((a, t) => a + t.split("\n").length - 1, 0) - (names[0] === "av.gz" ? 1 : 0);
    for (const range of ranges(total, points)) {
      const a = await passOf(want, range) as { out: unknown[] }, b = await passOf(got, range);
      assert.deepEqual(b, a, `${names.join(",")}: range ${JSON.stringify(range)}`);
    }
  }
});

test("a pass from a copy reads the copy, not the gzip stream (also from row 0)", async () => {
  const text = lines(60, criteoRow), gz = write("e.gz", text, true), d = copyDir();
  const points = await seekPoints(await openData(gz, { format: "criteo" }), EVERY, d);
  const want = [await passOf(await openData(gz, { format: "criteo", batchSize: 4 }), { start: 0, end: 12 }), await passOf(await openData(gz, { format: "criteo", batchSize: 4 }), { start: 30, end: 45 })];
  // The gzip file now holds other rows: the passes from the copy do not see them.
  writeFileSync(gz, gzipSync(lines(60, (i) => criteoRow(i + 1000))));
  const seeked = await openData(gz, { format: "criteo", batchSize: 4, seek: points });
  assert.deepEqual([await passOf(seeked, { start: 0, end: 12 }), await passOf(seeked, { start: 30, end: 45 })], want);
  // Points without their copy are passed over: those passes read the stream (and its other rows).
  const uncopied = points.map(({ inflated: _, ...p }) => p);
  const stream = await openData(gz, { format: "criteo", batchSize: 4, seek: uncopied });
  assert.notDeepEqual(await passOf(stream, { start: 30, end: 45 }), want[1]);
});

test("copies go with their points: forgotten, replaced by another scan, a failed scan; a copy that is gone is a clear error", async () => {
  const d = copyDir(), text = lines(50, criteoRow);
  const gz = write("f.gz", text, true), other = write("g.gz", lines(30, criteoRow), true);
  const file = await openData(gz, { format: "criteo" });
  const points = await seekPoints(file, EVERY, d);
  assert.equal(copiesIn(d).length, 1);
  // The same files again: the kept points and copy, no scan.
  assert.deepEqual(await seekPoints(file, EVERY, d), points);
  assert.equal(copiesIn(d).length, 1);
  // Another file's scan replaces them: the first copy is removed.
  await seekPoints(await openData(other, { format: "criteo" }), EVERY, d);
  const left = copiesIn(d);
  assert.equal(left.length, 1);
  assert.ok(!existsSync(points[0].inflated!), "the replaced copy is gone");
  await assert.rejects((await openData(gz, { format: "criteo", seek: points })).batches({ start: 20 }).next(), /f\.gz: its inflated copy .* cannot be read \(ENOENT.*a copy lasts as long as the process that made it/);
  forgetSeekPoints();
  assert.deepEqual(copiesIn(d), [], "forgotten: removed");
  // A truncated gzip file fails its scan, which leaves no copy behind.
  const whole = gzipSync(lines(20_000, criteoRow));
  const cut = join(dir, "cut.gz");
  writeFileSync(cut, whole.subarray(0, whole.length >> 1));
  await assert.rejects(seekPoints(await openData(cut, { format: "criteo" }), EVERY, d), /cut\.gz: the gzip stream is truncated or corrupt/);
  assert.deepEqual(copiesIn(d), []);
  await assert.rejects(holdoutSplit(await openData(cut, { format: "criteo" }), { lastRows: 1 }, d), /truncated or corrupt/);
  assert.deepEqual(copiesIn(d), []);
});

/** The process warnings emitted while `f` runs. */
async function warningsOf(f: () => Promise<unknown>): Promise<string[]> {
  const got: string[] = [];
  const on = (w: Error): void => { if (w.name === "SparsectrWarning") got.push(w.message); };
  process.on("warning", on);
  try {
    await f();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off("warning", on);
  }
  return got;
}

test("a copy that cannot be written, or would leave its file system short of room, is abandoned with a warning: the file's points go with it", async () => {
  // Over 1 MiB inflated: the copy is written in two chunks or more.
  const text = lines(15_000, criteoRow), gz = write("room.gz", text, true), plain = write("room.txt", text);
  assert.ok(text.length > 1 << 20);
  const want = await openData(plain, { format: "criteo", batchSize: 8 });
  const check = async (points: SeekPoint[]): Promise<void> => {
    assert.ok(points.every((p) => p.inflated === undefined), "no point in a copy");
    const got = await openData(gz, { format: "criteo", batchSize: 8, seek: points });
    for (const range of [{ start: 0, end: 30 }, { start: 150, end: 200 }, { start: 14_990 }]) assert.deepEqual(await passOf(got, range), await passOf(want, range));
  };
  // A folder that is not there.
  const missing = join(dir, "no-such-folder");
  let points: SeekPoint[] = [];
  let warned = await warningsOf(async () => { points = await seekPoints(await openData(gz, { format: "criteo" }), EVERY, missing); });
  assert.equal(warned.length, 1);
  assert.match(warned[0], /room\.gz: no inflated copy in .*no-such-folder \(after 0 bytes\): .*ENOENT.*read the gzip stream each instead.*set TMPDIR/);
  await check(points);
  forgetSeekPoints();
  // Too little room at the start, or after some bytes (checked every 1000 bytes here): nothing left behind.
  const saved = { ...copyRoom };
  try {
    for (const [name, free] of [["at the start", () => 0], ["midway", (() => { let calls = 0; return () => (++calls > 2 ? 10 : 1e12); })()]] as const) {
      const d = copyDir();
      copyRoom.every = 1000;
      copyRoom.space = () => ({ free: free(), reserve: 100 });
      warned = await warningsOf(async () => { points = await seekPoints(await openData(gz, { format: "criteo" }), EVERY, d); });
      assert.equal(warned.length, 1, name);
      assert.match(warned[0], /room\.gz: no inflated copy .*: 0 MiB are free on its file system, and a copy leaves 1 MiB free/, name);
      if (name === "midway") assert.match(warned[0], /after [1-9]\d* bytes/);
      assert.deepEqual(copiesIn(d), [], `${name}: the copy is removed`);
      await check(points);
      forgetSeekPoints();
    }
    // Room enough: the copy is made.
    copyRoom.space = () => ({ free: 1e12, reserve: 100 });
    const d = copyDir();
    assert.deepEqual(await warningsOf(async () => { points = await seekPoints(await openData(gz, { format: "criteo" }), EVERY, d); }), []);
    assert.ok(points.length > 0 && points.every((p) => p.inflated !== undefined));
    forgetSeekPoints();
  } finally {
    Object.assign(copyRoom, saved);
  }
});

test("a counting pass with a copy folder makes the copies seekPoints then takes; one without makes seekPoints scan again", async () => {
  const rows = 70_000, text = lines(rows, criteoRow), gz = write("h.gz", text, true), d = copyDir();
  const when = new Date(1_700_000_000_000);
  utimesSync(gz, when, when);
  const file = await openData(gz, { format: "criteo" });
  await holdoutSplit(file, { lastRows: 10 });
  assert.deepEqual(await seekPoints(file), [], "no copy asked: no points");
  assert.deepEqual(copiesIn(d), []);
  // Asked for copies now: a scan makes one.
  const scanned = await seekPoints(file, undefined, d);
  assert.deepEqual(scanned.map((p) => p.row), [0, 65536]);
  assert.equal(copiesIn(d).length, 1);
  forgetSeekPoints();
  await holdoutSplit(file, { lastRows: 10 }, d);
  const copy = copiesIn(d);
  assert.equal(copy.length, 1, "the counting pass's copy");
  const kept = await seekPoints(file, undefined, d);
  assert.deepEqual(copiesIn(d), copy, "no scan: the same copy");
  assert.equal(kept[1].inflated, join(d, copy[0]));
  assert.equal(readFileSync(kept[1].inflated!, "latin1").length, Buffer.byteLength(text));
});

test("copies are removed when the process exits, normally or on SIGTERM", () => {
  const gz = write("x.gz", lines(30, criteoRow), true), seekJs = fileURLToPath(new URL("../../src/data/seek.js", import.meta.url)), readerJs = fileURLToPath(new URL("../../src/data/reader.js", import.meta.url));
  for (const how of ["exit", "SIGTERM"]) {
    const d = copyDir();
    const script = `
      import { seekPoints } from ${JSON.stringify(seekJs)};
      import { openData } from ${JSON.stringify(readerJs)};
      const p = await seekPoints(await openData(${JSON.stringify(gz)}, { format: "criteo" }), 7, ${JSON.stringify(d)});
      console.log(p[0].inflated);
      ${how === "SIGTERM" ? "process.kill(process.pid, 'SIGTERM'); setTimeout(() => {}, 5000);" : ""}`;
    let out = "";
    try {
      out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    } catch (e) {
      const err = e as { status: number; stdout: string };
      assert.equal(err.status, 143, "ends as SIGTERM would");
      out = err.stdout;
    }
    assert.ok(out.includes("sparsectr-inflated-"), `${how}: the child made a copy (${out})`);
    assert.deepEqual(copiesIn(d), [], `${how}: removed at exit`);
  }
});

test("data-parallel workers over a gzip file enter their parts in its copy: every row trained once, none from the stream", async () => {
  configureLayers({ threads: 1 });
  const train = join(dir, "train.txt"), gz = join(dir, "train.txt.gz");
  const gen = createGenerator(synthConfig({ preset: "criteo", seed: 5, scale: 0.02 }));
  await generateFiles(gen, { format: "criteo", start: 0, rows: 20_000, out: train, truth: null });
  writeFileSync(gz, gzipSync(readFileSync(train)));
  const d = copyDir();
  const settings: TrainSettings = { model: "dcn", optimizer: "group-adam", hyper: { lr: 0.002, l21: 0.25 / 256 }, batch: 256, epochs: 1, seed: 7, minCount: 1 };
  const file = await openData(gz, { format: "criteo", batchSize: 256 });
  // The counting pass makes the copy; then the gzip file is overwritten in place (the same size, time and inode) with garbage.
  const when = new Date(1_700_000_000_000);
  utimesSync(gz, when, when);
  await holdoutSplit(file, { lastRows: 1 }, d);
  const size = statSync(gz).size;
  writeFileSync(gz, Buffer.alloc(size, 120));
  utimesSync(gz, when, when);
  const m = buildModel(file.fields.length, settings);
  const r = await trainParallel(m, file, { start: 0, end: 20_000 }, 3, undefined, {}, { denseUpdates: "sync", inflateDir: d });
  assert.equal(r.rows, 20_000, "every row trained once, from the copy");
  assert.equal(file.stats.skipped, 0);
  // Without copies the workers read the file, garbage now: the run fails.
  forgetSeekPoints();
  const m2 = buildModel(file.fields.length, settings);
  await assert.rejects(trainParallel(m2, file, { start: 0, end: 20_000 }, 3, undefined, {}, { denseUpdates: "sync", inflateDir: false }), /train\.txt\.gz/);
  forgetSeekPoints();
});
