// Seek points (data/seek.ts): a pass over a row range that starts at a point
// gives the very batches, stats and errors of the pass read from the
// beginning, in every format and over several files; the points locate their
// lines, and a pass with them does not read the bytes before its point.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { openData, prefetched, type Batch, type DataFile, type ReadOptions } from "../../src/index.js";
import { DataError } from "../../src/data/errors.js";
import { lineBlocks } from "../../src/data/lines.js";
import { bestSeekPoint, DEFAULT_SEEK_EVERY, seekPoints, seekStart, type SeekPoint } from "../../src/data/seek.js";
import { holdoutSplit } from "../../src/data/split.js";
import { AVAZU_HEADER } from "../../src/data/formats/avazu.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-seek-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let nFiles = 0;
/** Writes a fixture file and returns its path. */
function file(data: string | Uint8Array, name = `f${nFiles++}.txt`): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

const EVERY = 7;

const criteoRow = (i: number): string => [String(i % 3 === 0 ? 1 : 0), String(i % 11), "", String(i * 7), ...Array(10).fill(String(i % 4)), `c${i}`, ...Array(25).fill(i % 2 ? "x" : "")].join("\t");
const avazuRow = (i: number): string => [1000 + i, i % 4 === 0 ? 1 : 0, `141021${String(i % 24).padStart(2, "0")}`, 1005, 0, `s${i % 5}`, `d${i % 3}`, `c${i}`, `a${i % 7}`, "ad", "ac", `dev${i}`, `ip${i}`, `m${i % 9}`, 1, 0, 15000 + i, 320, 50, 1700 + (i % 3), 0, 35, -1, i % 100].join(",");
/** Quoted fields (some holding newlines, commas and quotes), multi-valued tags, CRLF on some lines. */
const csvRow = (i: number): string => {
  const site = i % 5 === 0 ? `"multi\nline ${i}\n"` : i % 7 === 0 ? `"a,b ""q"" ${i}"` : `s${i}`;
  const tags = i % 3 === 0 ? "" : `t${i % 3}|t${i % 4}`;
  return `${i % 2},${site},${tags},${i % 6 === 0 ? "" : String(i / 2)}${i % 4 === 1 ? "\r" : ""}`;
};
const CSV_OPTS: ReadOptions = {
  schema: { label: "click", categorical: ["site", "tags"], numeric: [{ name: "price", bucket: "none", missing: -1 }], separators: { tags: "|" } },
};
/** Values other than 1 (bags), -1/+1 labels. */
const libsvmRow = (i: number): string => `${i % 3 === 0 ? "-1" : "+1"} ${i}:1 ${i + 1}:${i % 5 === 0 ? 1 : (i % 5) / 2} ${i + 2}:1`;

const lines = (n: number, row: (i: number) => string, from = 0): string => Array.from({ length: n }, (_, i) => row(from + i)).join("\n");

/** A batch as plain arrays, every field a pass yields. */
function snap(b: Batch): unknown {
  return {
    rows: b.rows, part: b.part, seen: b.seen,
    labels: Array.from(b.labels), keyWords: Array.from(b.keyWords), keys: Array.from(b.keys),
    numeric: Array.from(b.numeric), lines: Array.from(b.lines),
    bags: b.bags ? { offsets: Array.from(b.bags.offsets), values: Array.from(b.bags.values) } : undefined,
  };
}

/** What a pass yields, returns and throws (the error's class, file, line and message), and the rows it skipped. */
async function passOf(f: DataFile, range: { start?: number; end?: number }, skipped: string[] = []): Promise<unknown> {
  skipped.length = 0;
  const batches: unknown[] = [];
  try {
    const it = f.batches(range);
    for (;;) {
      const n = await it.next();
      if (n.done) {
        const s = n.value;
        return { batches, stats: { rows: s.rows, skipped: s.skipped, seen: s.seen, firstBad: s.firstBad.map((e) => e.message) }, live: { ...f.stats, firstBad: f.stats.firstBad.map((e) => e.message) }, skipped: [...skipped] };
      }
      batches.push(snap(n.value));
    }
  } catch (e) {
    const err = e as Error;
    return { batches, error: err instanceof DataError ? { file: err.file, line: err.line, message: err.message } : { name: err.name, message: err.message }, skipped: [...skipped] };
  }
}

/** The starts worth trying: around 0, around and at every point, in the last file, at and past the end. */
function rangesOf(total: number, points: readonly SeekPoint[]): { start?: number; end?: number }[] {
  const starts = new Set<number>([0, 1, 2, total - 1, total, total + 3]);
  for (const p of points) for (const d of [-1, 0, 1]) if (p.row + d >= 0) starts.add(p.row + d);
  const out: { start?: number; end?: number }[] = [{}, { end: 5 }, { start: 3, end: total }];
  for (const start of starts) for (const end of [undefined, start + 1, start + 9, total + 50]) out.push({ start, end });
  return out;
}

interface Compared { plain: DataFile; points: SeekPoint[]; total: number; checked: number }

/**
 * Opens the files with and without seek points (every EVERY rows) and
 * checks that every range's pass is the same, field by field; also with
 * skipped rows' reports. Returns the points and the row count.
 */
async function compare(paths: string | string[], opts: ReadOptions, total?: number): Promise<Compared> {
  const skipA: string[] = [], skipB: string[] = [];
  const plain = await openData(paths, { ...opts, ...(opts.skipBadRows ? { onSkip: (e) => skipA.push(e.message) } : {}) });
  const points = await seekPoints(plain, EVERY);
  const every1 = await seekPoints(plain, 1);
  const n = total ?? every1.length;
  // The sparse points are points of every row, each at its row.
  for (const p of points) assert.deepEqual(every1.find((q) => q.row === p.row), p);
  assert.deepEqual(points.map((p) => p.row), [...points.map((p) => p.row)].sort((a, b) => a - b), "sorted by row");
  const seeked = await openData(paths, { ...opts, seek: points, ...(opts.skipBadRows ? { onSkip: (e) => skipB.push(e.message) } : {}) });
  let checked = 0;
  for (const range of rangesOf(n, points)) {
    const a = await passOf(plain, range, skipA), b = await passOf(seeked, range, skipB);
    assert.deepEqual(b, a, `range ${JSON.stringify(range)}`);
    checked++;
  }
  return { plain, points, total: n, checked };
}

test("criteo: a pass from a seek point is the pass from the beginning, for every range", async () => {
  const p = file(lines(60, criteoRow) + "\n");
  const r = await compare(p, { format: "criteo", batchSize: 4 });
  assert.equal(r.total, 60);
  assert.deepEqual(r.points.map((q) => q.row), [0, 7, 14, 21, 28, 35, 42, 49, 56]);
  assert.deepEqual(r.points.map((q) => q.line), [1, 8, 15, 22, 29, 36, 43, 50, 57]);
  const { batches } = await passOf(await openData(p, { format: "criteo", batchSize: 4, seek: r.points }), { start: 15, end: 20 }) as { batches: { lines: number[]; seen: number }[] };
  assert.deepEqual(batches.flatMap((b) => b.lines), [16, 17, 18, 19, 20]);
  assert.deepEqual(batches.map((b) => b.seen), [19, 20]);
});

test("avazu with a header and without: the same batches with seek points", async () => {
  const withHeader = file(AVAZU_HEADER + "\n" + lines(45, avazuRow) + "\n");
  const r = await compare(withHeader, { batchSize: 5 });
  assert.equal(r.plain.header, true);
  assert.deepEqual(r.points.slice(0, 2), [
    { row: 0, part: 0, byte: AVAZU_HEADER.length + 1, line: 2 },
    { row: 7, part: 0, byte: AVAZU_HEADER.length + 1 + lines(7, avazuRow).length + 1, line: 9 },
  ]);
  // No trailing newline: the last line is a row all the same.
  const headerless = file(lines(38, avazuRow));
  const h = await compare(headerless, { format: "avazu", batchSize: 3 });
  assert.equal(h.plain.header, false);
  assert.equal(h.total, 38);
  assert.equal(h.points[0].line, 1);
});

test("csv with quoted newlines, CRLF lines and multi-valued fields: the same batches with seek points", async () => {
  const p = file("click,site,tags,price\n" + lines(50, csvRow) + "\n");
  const r = await compare(p, { ...CSV_OPTS, batchSize: 4 });
  assert.equal(r.total, 50);
  // A line is a row: quoted newlines do not end one.
  assert.deepEqual(r.points.map((q) => q.line), r.points.map((q) => q.row + 2));
  const text = readFileSync(p, "latin1");
  for (const q of r.points) {
    assert.equal(text[q.byte - 1], "\n");
    assert.equal((text.slice(0, q.byte).match(/"/g) ?? []).length % 2, 0, "the point is outside quotes");
    assert.ok(text.startsWith(csvRow(q.row), q.byte), `row ${q.row} starts at its byte`);
  }
  const { batches } = await passOf(await openData(p, { ...CSV_OPTS, seek: r.points }), { start: 21 }) as { batches: { bags?: unknown }[] };
  assert.ok(batches.some((b) => b.bags !== undefined), "the rows read have bags");
});

test("libsvm (feature values, -1/+1 labels): the same batches with seek points", async () => {
  const p = file(lines(40, libsvmRow) + "\n");
  const r = await compare(p, { format: "libsvm", batchSize: 6 });
  assert.equal(r.total, 40);
});

test("several files read as one: points in each, starts inside the second file", async () => {
  const a = file(lines(30, criteoRow) + "\n"), b = file(lines(25, criteoRow, 30));
  const r = await compare([a, b], { format: "criteo", batchSize: 4 });
  assert.equal(r.total, 55);
  assert.deepEqual(r.points.map((q) => [q.row, q.part, q.line]), [[0, 0, 1], [7, 0, 8], [14, 0, 15], [21, 0, 22], [28, 0, 29], [30, 1, 1], [37, 1, 8], [44, 1, 15], [51, 1, 22]]);
  // Avazu: a headerless file, then one with a header (read on its own when the pass starts past it).
  const c = file(lines(20, avazuRow)), d = file(AVAZU_HEADER + "\r\n" + lines(23, avazuRow, 20) + "\r\n");
  const av = await compare([c, d], { format: "avazu", batchSize: 5 });
  assert.deepEqual(av.plain.headers, [false, true]);
  assert.deepEqual(av.points.find((q) => q.part === 1), { row: 20, part: 1, byte: AVAZU_HEADER.length + 2, line: 2 });
  // Csv files with headers, each.
  const e = file("click,site,tags,price\n" + lines(16, csvRow)), f = file("click,site,tags,price\r\n" + lines(19, csvRow, 16) + "\r\n");
  await compare([e, f], { ...CSV_OPTS, batchSize: 3 });
});

test("malformed rows after the point: the same DataError (file, line) with and without seek points", async () => {
  const rows = Array.from({ length: 40 }, (_, i) => criteoRow(i));
  rows[20] = criteoRow(20).replace(/^0/, "x");
  rows[31] = "";
  const p = file(rows.join("\n") + "\n", "bad.txt");
  await compare(p, { format: "criteo", batchSize: 4 });
  const seeked = await openData(p, { format: "criteo", seek: await seekPoints(await openData(p, { format: "criteo" }), EVERY) });
  const failed = async (start: number): Promise<string> => ((await passOf(seeked, { start })) as { error: { message: string } }).error.message;
  assert.match(await failed(15), /bad\.txt:21: column label: label "x" is not 0 or 1/);
  assert.match(await failed(22), /bad\.txt:32: empty line/);

  // Avazu's header and csv's quoted newlines move the line numbers off the rows'.
  const av = Array.from({ length: 30 }, (_, i) => avazuRow(i));
  av[17] = avazuRow(17).replace(",141021", ",1410zz");
  const ap = file(AVAZU_HEADER + "\n" + av.join("\n") + "\n", "bad.csv");
  await compare(ap, { batchSize: 4 });
  const cs = Array.from({ length: 30 }, (_, i) => csvRow(i));
  cs[23] = `2,"multi\nline",t,1`;
  const cp = file("click,site,tags,price\n" + cs.join("\n") + "\n", "badq.csv");
  await compare(cp, { ...CSV_OPTS, batchSize: 4 });
  const err = (await passOf(await openData(cp, { ...CSV_OPTS, seek: await seekPoints(await openData(cp, CSV_OPTS), EVERY) }), { start: 22 })) as { error: DataError };
  assert.equal(err.error.line, 25);
});

test("skipBadRows: the same stats, skipped rows and limit errors with seek points", async () => {
  const rows = Array.from({ length: 70 }, (_, i) => criteoRow(i));
  for (const i of [3, 9, 22, 23, 40, 61]) rows[i] = i % 2 ? "" : "1\tbad";
  const a = file(rows.join("\n") + "\n"), b = file(lines(20, criteoRow, 70) + "\n");
  await compare([a, b], { format: "criteo", batchSize: 4, skipBadRows: true, maxBadRows: { count: 100 } });
  await compare([a, b], { format: "criteo", batchSize: 4, skipBadRows: true, maxBadRows: { count: 2 } });
  // The default limit (a fraction of the rows read) fails most ranges at their end.
  await compare([a, b], { format: "criteo", batchSize: 4, skipBadRows: true });
});

test("gzip: no points of its own, and points given for it are passed over", async () => {
  const text = lines(40, criteoRow) + "\n";
  const plainPath = file(text), gz = file(gzipSync(text), "g.txt.gz");
  const points = await seekPoints(await openData(plainPath, { format: "criteo" }), EVERY);
  assert.equal(points.length, 6);
  assert.deepEqual(await seekPoints(await openData(gz, { format: "criteo" }), EVERY), []);
  // The plain file's points, given to its gzip twin: the same batches as without.
  const without = await openData(gz, { format: "criteo", batchSize: 4 }), withPoints = await openData(gz, { format: "criteo", batchSize: 4, seek: points });
  for (const range of rangesOf(40, points)) assert.deepEqual(await passOf(withPoints, range), await passOf(without, range), JSON.stringify(range));
  // A gzip file and then a plain one: points in the plain one only, from the rows after the gzip file's.
  const r = await compare([gz, plainPath], { format: "criteo", batchSize: 4 }, 80);
  assert.deepEqual(r.points.map((q) => q.part), [1, 1, 1, 1, 1, 1]);
  assert.equal(r.points[0].row, 40);
  assert.equal(await bestSeekPoint(r.points, 39, r.plain.paths), undefined);
  assert.deepEqual(await bestSeekPoint(r.points, 48, r.plain.paths), r.points[1]);
});

test("seekPoints' bytes start their lines; a file over several read chunks", async () => {
  const text = lines(40000, criteoRow) + "\n";
  assert.ok(text.length > 2.5 * (1 << 20), "the file spans several 1 MiB chunks");
  const p = file(text);
  const plain = await openData(p, { format: "criteo", batchSize: 100 });
  const points = await seekPoints(plain, 3001);
  assert.equal(points.length, 14);
  const all = text.split("\n");
  for (const q of points) {
    assert.equal(q.line, q.row + 1);
    assert.ok(q.byte === 0 || text[q.byte - 1] === "\n");
    assert.equal(text.slice(q.byte, text.indexOf("\n", q.byte)), all[q.line - 1], `row ${q.row}`);
  }
  const seeked = await openData(p, { format: "criteo", batchSize: 100, seek: points });
  for (const range of [{ start: 3000, end: 3300 }, { start: 3001, end: 3002 }, { start: 21000 }, { start: 39999 }, { start: 18007, end: 19500 }]) {
    assert.deepEqual(await passOf(seeked, range), await passOf(plain, range), JSON.stringify(range));
  }
});

test("lineBlocks: offsets locate every line, whatever the chunking", async () => {
  const text = Buffer.from(`a\r\nbb\n"q\n"x\n\n${"long".repeat(30)}\nlast`);
  for (const quote of [false, true]) {
    // Where each line starts, found the slow way.
    const want: number[] = [0];
    let inQ = false;
    for (let i = 0; i < text.length; i++) {
      if (text[i] === 34 && quote) inQ = !inQ;
      else if (text[i] === 10 && !inQ && i + 1 < text.length) want.push(i + 1);
    }
    for (const size of [1, 2, 3, 5, 7, 64, 1000]) {
      async function* chunks(): AsyncGenerator<Buffer> { for (let i = 0; i < text.length; i += size) yield text.subarray(i, i + size); }
      const got: number[] = [], numbers: number[] = [];
      for await (const blk of lineBlocks(chunks(), quote, "t", 10)) {
        for (let k = 0; k < blk.count; k++) { got.push(blk.offset + blk.starts[k]); numbers.push(blk.firstLine + k); }
      }
      assert.deepEqual(got, want, `quote ${quote}, chunks of ${size}`);
      assert.deepEqual(numbers, want.map((_, i) => 10 + i), "numbered from firstLine");
    }
  }
});

test("a pass with seek points does not read the bytes before its point", async () => {
  const text = lines(60, criteoRow) + "\n";
  const p = file(text);
  const points = await seekPoints(await openData(p, { format: "criteo" }), EVERY);
  const at = points.find((q) => q.row === 28)!;
  // The copy: every byte before the point's line, newlines included, overwritten (one garbage line).
  const bytes = Buffer.from(text, "latin1");
  bytes.fill(120, 0, at.byte - 1);
  const copy = file(bytes);
  const want = await passOf(await openData(p, { format: "criteo", batchSize: 4 }), { start: 30, end: 45 });
  const seeked = await openData(copy, { format: "criteo", batchSize: 4, seek: points });
  assert.deepEqual(await passOf(seeked, { start: 30, end: 45 }), want, "the seeked pass never saw the garbage");
  assert.notDeepEqual(await passOf(await openData(copy, { format: "criteo", batchSize: 4 }), { start: 30, end: 45 }), want, "the pass from the beginning did");
  // The point chosen: the largest row <= start.
  assert.equal((await seekStart(points, 30, { paths: [copy], headers: [false] }))?.row, 28);
  assert.equal((await seekStart(points, 28, { paths: [copy], headers: [false] }))?.row, 28);
  assert.equal(await seekStart(points, 0, { paths: [copy], headers: [false] }), undefined);
});

test("seek points through prefetch: the options reach the reader thread", async () => {
  const p = file(AVAZU_HEADER + "\n" + lines(45, avazuRow) + "\n");
  const plain = await openData(p, { batchSize: 5 });
  const points = await seekPoints(plain, EVERY);
  const other = prefetched(await openData(p, { batchSize: 5, seek: points }), 2);
  for (const range of [{ start: 14 }, { start: 30, end: 33 }]) assert.deepEqual(await passOf(other, range), await passOf(plain, range));
});

test("points that are not of these files, or not points, are refused", async () => {
  const p = file(lines(30, criteoRow) + "\n"), q = file(lines(30, (i) => criteoRow(i).replace("\tc", "\tcc")) + "\n");
  const points = await seekPoints(await openData(p, { format: "criteo" }), EVERY);
  const stale = await openData(q, { format: "criteo", seek: points });
  await assert.rejects(stale.batches({ start: 10 }).next(), /the seek point of row 7 \(byte \d+, line 8\) does not start a line/);
  const short = file(lines(3, criteoRow) + "\n");
  await assert.rejects((await openData(short, { format: "criteo", seek: points })).batches({ start: 29 }).next(), /is past the end of the file/);
  const av = file(AVAZU_HEADER + "\n" + lines(5, avazuRow) + "\n");
  await assert.rejects((await openData(av, { seek: [{ row: 0, part: 0, byte: 0, line: 1 }] })).batches({ start: 2 }).next(), /is the header line/);
  for (const bad of [{ row: 0, part: 1, byte: 0, line: 1 }, { row: -1, part: 0, byte: 0, line: 1 }, { row: 0, part: 0, byte: 5, line: 1 }, { row: 0, part: 0, byte: 0, line: 2 }, null]) {
    await assert.rejects((await openData(p, { format: "criteo", seek: [bad as never] })).batches({ start: 3 }).next(), TypeError, JSON.stringify(bad));
  }
  // Start 0 reads from the beginning: the points are not looked at.
  assert.equal((await (await openData(q, { format: "criteo", seek: points })).batches().next()).value?.rows, 30);
  await assert.rejects(seekPoints(await openData(p, { format: "criteo" }), 0), RangeError);
});

test("a counting pass (holdoutSplit) keeps the files' seek points: seekPoints takes them without scanning again, and scans a changed file", async () => {
  const rows = Array.from({ length: 200_000 }, (_, i) => criteoRow(i)), text = rows.join("\n") + "\n";
  const p = file(text), gz = file(gzipSync(text), "twin.txt.gz");
  // A whole-second time, which the rewrite below can restore exactly.
  const when = new Date(1_700_000_000_000);
  utimesSync(p, when, when);
  const opened = await openData([p, gz], { format: "criteo" });
  const byteOf = (r: number, rs: string[]): number => (r === 0 ? 0 : Buffer.byteLength(rs.slice(0, r).join("\n")) + 1);
  // Another spacing first: kept under its own key.
  const other = await seekPoints(opened, DEFAULT_SEEK_EVERY + 1);
  const split = await holdoutSplit(opened, { lastRows: 10 });
  assert.equal(split.total, 400_000);
  const counted = await seekPoints(await openData([p, gz], { format: "criteo" }));
  assert.deepEqual(counted.map((q) => [q.row, q.part, q.byte, q.line]), [0, 65536, 131072, 196608].map((r) => [r, 0, byteOf(r, rows), r + 1]), "the counting pass's points (none in the gzip file)");
  assert.equal(other[1].row, DEFAULT_SEEK_EVERY + 1);
  // Rewritten in place, the same size and time, with rows 6-70000 one byte later: the kept points come back (no scan)...
  const moved = [...rows];
  moved[5] = rows[5].replace("\tc5\t", "\tc55\t");
  moved[70000] = rows[70000].replace("\tc70000\t", "\tc7000\t");
  const text2 = moved.join("\n") + "\n";
  assert.equal(text2.length, text.length);
  writeFileSync(p, text2);
  utimesSync(p, when, when);
  assert.equal(statSync(p).mtimeMs, when.getTime());
  assert.deepEqual(await seekPoints(opened), counted, "the kept points");
  // ...and once its time moves, a scan of its own finds the moved rows.
  utimesSync(p, when, new Date(when.getTime() + 5000));
  const rescanned = await seekPoints(opened);
  assert.deepEqual(rescanned.map((q) => q.byte), [0, 65536, 131072, 196608].map((r) => byteOf(r, moved)));
  assert.equal(rescanned[1].byte, counted[1].byte + 1);
});
