// The command line: `sparsectr inspect` against brute-force counts of the raw
// file, exit codes and messages for bad arguments and bad rows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { haveShared, SHARED } from "../helpers/shared.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });

test("inspect: distinct values per field equal a brute-force count of the raw Avazu sample", { skip: !haveShared("avazu") && "shared data not present" }, () => {
  const path = join(SHARED, "avazu/sample.csv");
  const r = run("inspect", "--data", path, "--json");
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  const rows = readFileSync(path, "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
  const header = readFileSync(path, "utf8").split("\n")[0].split(",");
  assert.equal(rep.rows, rows.length);
  assert.equal(rep.clicks, rows.filter((c) => c[1] === "1").length);
  for (let c = 3; c < header.length; c++) assert.equal(rep.fields[header[c]], new Set(rows.map((x) => x[c])).size, header[c]);
  assert.equal(rep.fields.hour_of_day, new Set(rows.map((x) => x[2].slice(6))).size);
});

test("the command line: --help, unknown commands and options, bad rows (exit 1) and --skip-bad-rows", () => {
  const top = run("--help");
  assert.equal(top.status, 0);
  assert.match(top.stdout, /inspect/);
  assert.equal(run("frobnicate").status, 2);
  const bad = run("inspect", "--bogus");
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown option --bogus/);
  assert.match(run("inspect", "--help").stdout, /--skip-bad-rows/);
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-cli-"));
  try {
    const p = join(dir, "x.txt");
    const good = ["1", ...Array(13).fill("7"), ...Array(26).fill("a")].join("\t");
    writeFileSync(p, [good, "1\t2", good].join("\n"));
    const r = run("inspect", "--data", p, "--format", "criteo");
    assert.equal(r.status, 1);
    assert.match(r.stderr, /x\.txt:2: column 3: row has 2 columns, expected 40/);
    assert.doesNotMatch(r.stderr, /at .*\.js/, "no stack trace");
    const s = run("inspect", "--data", p, "--format", "criteo", "--skip-bad-rows", "--max-bad-rows", "1");
    assert.equal(s.status, 0);
    assert.match(s.stdout, /2 rows/);
    assert.match(s.stdout, /skipped 1 malformed rows/);
    assert.match(s.stdout, /x\.txt:2: column 3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
