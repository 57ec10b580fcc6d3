// Fuzzing the data readers (issue 7, hostile inputs): mutated Criteo, Avazu,
// libsvm (with and without a featindex, itself sometimes mutated) and CSV
// (with a schema object or file, sometimes mutated) inputs, plain or gzip
// (sometimes with damaged compressed bytes), read to the end with random batch
// sizes, ranges, skipBadRows (with a random bad-row limit, onSkip counted),
// prefetching and, now and then, two files read as one. Seeds include libfm
// rows (-1/+1 labels, feature values, multi-valued fields), headerless Avazu
// rows and CSV with a multi-valued column. Every case must end in batches
// that are consistent, or in an Error naming the file (a DataError with its
// line for a bad row), some also split into a holdout that must count the
// rows the pass saw: no internal error, no hang (each case under 2 s, a
// watchdog kills a stuck worker), no large allocation. Seeds: the first rows of
// the shared real samples when present, and generated rows. Cases per target:
// 2000 by default (SPARSECTR_FUZZ_CASES overrides; see helpers/fuzz.ts).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { copyFileSync } from "node:fs";
import { openData } from "../../src/data/reader.js";
import { prefetched } from "../../src/data/prefetch.js";
import type { ReadOptions } from "../../src/data/types.js";

/** ReadOptions and, for the fuzz, the depth of a prefetched pass. */
type FuzzOptions = ReadOptions & { prefetch?: number | boolean };
import { DataError } from "../../src/data/errors.js";
import { holdoutSplit, type Holdout } from "../../src/data/split.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { fuzzTargets, mutateJson, mutateManyBytes, Rand, unclear, type FuzzTarget } from "../helpers/fuzz.js";
import { SHARED } from "../helpers/shared.js";

const CASES = 2000;

interface Seed { name: string; data: Uint8Array }
interface Ctx {
  dir: string;
  seeds: Seed[];
  /** Every seed's bytes, to splice from. */
  pool: Uint8Array[];
  featindex: Uint8Array[];
  schemas: { schema: Record<string, unknown>; seed: number }[];
}

const enc = new TextEncoder();

/** The first n lines of a shared sample, or null when the samples are absent. */
function sharedHead(rel: string, n: number): Uint8Array | null {
  const p = join(SHARED, rel);
  if (!existsSync(p)) return null;
  const text = readFileSync(p, "utf8");
  let end = 0;
  for (let k = 0; k < n && end >= 0; k++) end = text.indexOf("\n", end) + 1 || -1;
  return enc.encode(end > 0 ? text.slice(0, end) : text);
}

async function synth(dir: string, preset: string, format: "criteo" | "avazu" | "libsvm" | "csv", rows: number): Promise<{ data: Uint8Array; featindex?: Uint8Array; schema?: Record<string, unknown> }> {
  const out = join(dir, `synth-${format}`);
  const g = createGenerator(synthConfig({ preset, seed: 7, scale: 0.001 }));
  await generateFiles(g, { format, start: 0, rows, out, truth: null, featindex: format === "libsvm" ? `${out}.featindex` : undefined, maxFeatindex: 100_000 });
  return {
    data: readFileSync(out),
    featindex: format === "libsvm" ? readFileSync(`${out}.featindex`) : undefined,
    schema: format === "csv" ? JSON.parse(readFileSync(`${out}.schema.json`, "utf8")) as Record<string, unknown> : undefined,
  };
}

/** A hand-made CSV: quoted fields with delimiters, quotes and newlines inside, CRLF, missing numbers, an ignored column. */
function quotedCsv(): { data: Uint8Array; schema: Record<string, unknown> } {
  const r = new Rand(11);
  const lines = ["id,click,price,age,site,note,tags"];
  for (let i = 0; i < 40; i++) {
    const note = r.pick(["plain", "\"with, comma\"", "\"with \"\"quotes\"\"\"", "\"two\r\nlines\"", "", "\"\""]);
    const price = r.chance(0.2) ? "" : (r.float() * 100).toFixed(2);
    const age = r.chance(0.2) ? "" : String(r.int(90));
    const tags = r.pick(["", "a", "a|b", "b|c|d", "|", "a||b", "\"x|y,z\""]);
    lines.push(`${i},${r.pick(["0", "1", "-1", "+1"])},${price},${age},${r.pick(["a.com", "b.org", "\"c,d\""])},${note},${tags}`);
  }
  return {
    data: enc.encode(lines.join("\r\n") + "\r\n"),
    schema: { label: "click", categorical: ["site", "note", "tags"], numeric: [{ name: "price", bucket: "none", missing: 0 }, { name: "age", bucket: "criteo" }], ignore: ["id"], separators: { tags: "|" } },
  };
}

/** A header-less TSV version of a csv file with a header, and its schema. */
function headerlessTsv(csv: Uint8Array, schema: Record<string, unknown>): { data: Uint8Array; schema: Record<string, unknown> } {
  const text = new TextDecoder().decode(csv);
  const nl = text.indexOf("\n");
  const columns = text.slice(0, nl).split(",");
  return { data: enc.encode(text.slice(nl + 1).replaceAll(",", "\t")), schema: { ...schema, delimiter: "\t", header: false, columns } };
}

/**
 * libfm-style rows from libsvm rows: -1/+1 labels (some spelled -1.0, +1.0),
 * some values other than 1 (0.5, 2, 0), and now and then a second index of a
 * field (the next token's index repeated).
 */
function libfmRows(rows: Uint8Array): Uint8Array {
  const r = new Rand(13);
  const out = new TextDecoder().decode(rows).split("\n").map((line) => {
    if (line === "") return line;
    const t = line.split(" ");
    t[0] = t[0] === "1" ? r.pick(["1", "+1", "1.0", "+1.0"]) : r.pick(["-1", "-1.0", "0", "0.0"]);
    for (let k = 1; k < t.length; k++) if (r.chance(0.2)) t[k] = `${t[k].split(":")[0]}:${r.pick(["0.5", "2", "0", "1e-3", "-1.5"])}`;
    if (t.length > 2 && r.chance(0.3)) t.push(t[1].split(":")[0] + ":1");
    return t.join(" ");
  });
  return enc.encode(out.join("\n"));
}

/** The featindex lines of the indices the rows use, and every 500th other line. */
function smallFeatindex(rows: Uint8Array, featindex: string): Uint8Array {
  const used = new Set<string>();
  for (const line of new TextDecoder().decode(rows).split("\n")) for (const t of line.split(" ").slice(1)) used.add(t.split(":")[0]);
  const keep = featindex.split("\n").filter((l, k) => l !== "" && (used.has(l.slice(l.lastIndexOf("\t") + 1)) || k % 500 === 0));
  return enc.encode(keep.join("\n") + "\n");
}

async function setup(format: "criteo" | "avazu" | "libsvm" | "csv"): Promise<Ctx> {
  const dir = mkdtempSync(join(tmpdir(), `sparsectr-fuzz-${format}-`));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const seeds: Seed[] = [], featindex: Uint8Array[] = [], schemas: Ctx["schemas"] = [];
  if (format === "criteo") {
    const real = sharedHead("criteo/train.txt", 50);
    if (real) seeds.push({ name: "criteo-real", data: real });
    seeds.push({ name: "criteo-synth", data: (await synth(dir, "criteo", "criteo", 40)).data });
  } else if (format === "avazu") {
    const real = sharedHead("avazu/sample.csv", 51);
    if (real) seeds.push({ name: "avazu-real", data: real });
    const data = (await synth(dir, "avazu", "avazu", 40)).data;
    seeds.push({ name: "avazu-synth", data });
    // Without the header line (a day file cut from train.csv).
    seeds.push({ name: "avazu-headerless", data: data.subarray(data.indexOf(10) + 1) });
  } else if (format === "libsvm") {
    const real = sharedHead("ipinyou/train.fm.txt", 50);
    if (real) {
      seeds.push({ name: "ipinyou-real", data: real });
      featindex.push(smallFeatindex(real, readFileSync(join(SHARED, "ipinyou/featindex.fm.txt"), "utf8")));
    }
    const s = await synth(dir, "ipinyou", "libsvm", 40);
    seeds.push({ name: "ipinyou-synth", data: s.data });
    featindex.push(s.featindex!);
    seeds.push({ name: "libfm-synth", data: libfmRows(s.data) });
    featindex.push(s.featindex!);
  } else {
    const s = await synth(dir, "criteo", "csv", 40);
    seeds.push({ name: "csv-synth", data: s.data });
    schemas.push({ schema: s.schema!, seed: 0 });
    const q = quotedCsv();
    seeds.push({ name: "csv-quoted", data: q.data });
    schemas.push({ schema: q.schema, seed: 1 });
    const t = headerlessTsv(s.data, s.schema!);
    seeds.push({ name: "tsv-headerless", data: t.data });
    schemas.push({ schema: t.schema, seed: 2 });
  }
  return { dir, seeds, pool: seeds.map((s) => s.data), featindex, schemas };
}

/**
 * Reads every batch of a file (or of two read as one), checking each batch's
 * and the pass's consistency (the bag layout's invariants where a batch has
 * bags; onSkip called once per skipped row), then (with `holdout`) splits it,
 * checking that the split counts the rows the pass saw; returns a coarse
 * outcome.
 */
async function readAll(paths: string | string[], fuzz: FuzzOptions, holdout?: Holdout): Promise<string> {
  let skips = 0;
  const { prefetch, ...opts } = fuzz;
  const file = prefetched(await openData(paths, { ...opts, onSkip: () => { skips++; } }), prefetch ?? false);
  const F = file.fields.length, N = file.numeric.length, size = opts.batchSize ?? 512;
  let rows = 0, lastLine = 0, lastSeen = 0, lastPart = 0, bagged = false;
  const it = file.batches();
  for (;;) {
    const n = await it.next();
    if (n.done) {
      const st = n.value;
      assert.equal(st.rows, rows, "stats.rows counts the rows yielded");
      if (!opts.skipBadRows) assert.equal(st.skipped, 0);
      assert.equal(skips, st.skipped, "onSkip is called for every skipped row");
      assert.ok(st.firstBad.every((e) => e instanceof DataError && e.line >= 1), "firstBad holds located errors");
      assert.ok(st.seen >= st.rows, "seen counts every data row");
      break;
    }
    const b = n.value;
    assert.ok(b.rows >= 1 && b.rows <= size, `batch of ${b.rows} rows (size ${size})`);
    const part = b.part ?? 0;
    assert.ok(Number.isInteger(part) && part >= lastPart && part < file.paths.length, `part ${part} after ${lastPart}`);
    if (part !== lastPart) lastLine = 0;
    lastPart = part;
    if (b.bags) {
      bagged = true;
      const { offsets, values } = b.bags;
      assert.equal(offsets.length, b.rows * F + 1);
      assert.equal(offsets[0], 0);
      let plain = true;
      for (let j = 0; j < b.rows * F; j++) {
        assert.ok(offsets[j + 1] > offsets[j], `slot ${j} holds at least one key`);
        if (offsets[j + 1] - offsets[j] !== 1) plain = false;
      }
      const nk = offsets[b.rows * F];
      assert.equal(b.keys.length, nk);
      assert.equal(values.length, nk);
      for (let j = 0; j < nk; j++) {
        assert.ok(Number.isFinite(values[j]) && values[j] !== 0, `value ${values[j]}`);
        if (values[j] !== 1) plain = false;
      }
      assert.ok(!plain, "a batch of one key of value 1 per slot has no bags");
    } else assert.equal(b.keys.length, b.rows * F);
    assert.equal(b.keyWords.length, 2 * b.keys.length);
    assert.equal(b.numeric.length, b.rows * N);
    for (let i = 0; i < b.rows; i++) {
      assert.ok(b.labels[i] === 0 || b.labels[i] === 1, `label ${b.labels[i]}`);
      assert.ok(Number.isInteger(b.lines[i]) && b.lines[i] > lastLine, `line ${b.lines[i]} after ${lastLine}`);
      lastLine = b.lines[i];
    }
    for (let j = 0; j < b.numeric.length; j++) assert.ok(Number.isFinite(b.numeric[j]), `numeric ${b.numeric[j]}`);
    assert.ok(b.seen >= lastSeen, "seen never decreases");
    lastSeen = b.seen;
    rows += b.rows;
  }
  const label = (rows === 0 ? "no rows" : file.stats.skipped > 0 ? "rows, some skipped" : "rows") + (bagged ? ", bags" : "") + (file.paths.length > 1 ? ", two files" : "");
  if (holdout) {
    const split = await holdoutSplit(file, holdout);
    if (!opts.range) assert.equal(split.total, file.stats.seen, "the holdout counts the rows a pass sees");
    assert.ok(split.train.start === 0 && split.train.end === split.test.start && split.test.end === split.total && split.train.end > 0 && split.test.start < split.total);
    return `${label}, split`;
  }
  return label;
}

function maybeGzip(r: Rand, data: Uint8Array, pool: Uint8Array[]): Uint8Array {
  if (!r.chance(0.12)) return data;
  const gz = new Uint8Array(gzipSync(data, { level: r.range(1, 9) }));
  if (r.chance(0.4)) return gz;
  if (r.chance(0.3)) { // damage near the end: the trailer (CRC, length) or the last blocks
    const out = gz.slice();
    const k = out.length - 1 - r.int(Math.min(out.length, 16));
    out[k] ^= 1 << r.int(8);
    return r.chance(0.3) ? out.subarray(0, r.int(out.length)) : out;
  }
  return mutateManyBytes(r, gz, pool.map((p) => new Uint8Array(gzipSync(p))), 1);
}

function readerTarget(format: "criteo" | "avazu" | "libsvm" | "csv"): FuzzTarget<Ctx> {
  return {
    name: `reader-${format}`,
    cases: CASES,
    setup: () => setup(format),
    make(ctx, r) {
      const seedIdx = r.int(ctx.seeds.length);
      const seed = ctx.seeds[seedIdx];
      const mutateData = format === "csv" || format === "libsvm" ? r.chance(0.85) : true;
      const data = maybeGzip(r, mutateData ? mutateManyBytes(r, seed.data, ctx.pool) : seed.data, ctx.pool);
      const path = join(ctx.dir, `case.${format}`);
      const files: Record<string, Uint8Array | string> = { [`case.${format}`]: data };
      writeFileSync(path, data);
      const opts: FuzzOptions = {
        batchSize: r.chance(0.03) ? r.pick([1 << 16, 1 << 20]) : r.pick([1, 3, 16, 64, 512]),
        skipBadRows: r.chance(0.5),
      };
      if (opts.skipBadRows && r.chance(0.7)) opts.maxBadRows = r.pick([{ fraction: 1 }, { fraction: 0.5 }, { count: 1_000_000 }, { count: r.int(4) }]);
      if (format === "criteo" || format === "avazu") { if (r.chance(0.7)) opts.format = format; } else opts.format = format;
      if (r.chance(0.1)) opts.range = { start: r.int(20), end: r.chance(0.5) ? undefined : r.int(60) };
      if (r.chance(0.02)) opts.prefetch = r.pick([true, 1, 2]);
      const names = [path];
      if (format === "libsvm" && r.chance(0.6)) {
        const fiSeed = ctx.featindex[Math.min(seedIdx, ctx.featindex.length - 1)];
        const fi = r.chance(0.3) ? mutateManyBytes(r, fiSeed, ctx.featindex, 1) : fiSeed;
        const fiPath = join(ctx.dir, "case.featindex");
        writeFileSync(fiPath, fi);
        files["case.featindex"] = fi;
        opts.featindex = fiPath;
        names.push(fiPath);
      }
      if (format === "csv" && seed.name === "tsv-headerless" && r.chance(0.3)) {
        // No schema: the label column's index, the schema built from the first line (sometimes out of range).
        opts.labelColumn = r.pick([0, 1, 5, 39, 40, 1000]);
      } else if (format === "csv") {
        const s = ctx.schemas[seedIdx];
        let schema: unknown = r.chance(0.15) ? mutateJson(r, s.schema, ["delimiter", "header", "columns", "label", "categorical", "numeric", "ignore", "bucket", "missing", "name", "separators", "tags"]) : s.schema;
        files["case.schema.json"] = JSON.stringify(schema) ?? "";
        if (r.chance(0.5)) {
          const schemaPath = join(ctx.dir, "case.schema.json");
          let text: Uint8Array = enc.encode(JSON.stringify(schema) ?? "");
          if (r.chance(0.1)) text = mutateManyBytes(r, text, [], 1);
          writeFileSync(schemaPath, text);
          files["case.schema.json"] = text;
          schema = schemaPath;
          names.push(schemaPath);
        } else names.push("schema");
        opts.schema = schema as ReadOptions["schema"];
      }
      const holdout: Holdout | undefined = r.chance(0.1) ? r.pick<Holdout>([{ lastFraction: 0.25 }, { lastRows: 3 }, ...(format === "avazu" ? [{ lastDay: true as const }] : [])]) : undefined;
      // Now and then a second file read after the first: the case's file again, or another seed.
      let paths: string | string[] = path;
      if (r.chance(0.08)) {
        const second = join(ctx.dir, `case2.${format}`);
        if (r.chance(0.5)) copyFileSync(path, second);
        else writeFileSync(second, ctx.seeds[r.int(ctx.seeds.length)].data);
        files[`case2.${format}`] = readFileSync(second);
        paths = [path, second];
      }
      files["options.json"] = JSON.stringify({ seed: seed.name, ...opts, holdout, paths });
      return { files, run: () => readAll(paths, opts, holdout) };
    },
    judge(e, ctx) {
      const names = format === "csv" ? [ctx.dir, "schema"] : [ctx.dir];
      const why = unclear(e, names);
      if (why) return why;
      if (e instanceof DataError && !(Number.isInteger(e.line) && e.line >= 1)) return `a DataError without a line: ${e.message}`;
      return null;
    },
    summary(rep) {
      assert.ok(rep.ok >= rep.cases * 0.05, `only ${rep.ok} of ${rep.cases} cases read to the end: the mutations are too destructive to test the success path`);
      assert.ok(rep.refused >= rep.cases * 0.05, `only ${rep.refused} of ${rep.cases} cases were refused`);
    },
  };
}

fuzzTargets(import.meta.url, [readerTarget("criteo"), readerTarget("avazu"), readerTarget("libsvm"), readerTarget("csv")]);
