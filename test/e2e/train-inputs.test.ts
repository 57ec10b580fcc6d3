// `sparsectr train` on the inputs real logs come in: several training files
// read as one (the same model bit for bit as their concatenation), a
// headerless Avazu test file, a headerless CSV with --label-column, libfm
// labels -1/+1 scored by predict as eval scores them, and the bad-row limit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { haveShared, SHARED } from "../helpers/shared.js";

const have = haveShared("criteo/train.txt", "avazu/sample.csv");
const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sparsectr-train-inputs-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function report(r: { code: number | null; out: string; err: string }): Record<string, unknown> {
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out.trim().split("\n").pop()!) as Record<string, unknown>;
}

test("two training files give the model of their concatenation, bit for bit", { skip: !have && "shared data not present" }, () => {
  const lines = readFileSync(join(SHARED, "criteo/train.txt"), "utf8").trimEnd().split("\n");
  const a = join(dir, "a.txt"), b = join(dir, "b.txt"), ab = join(dir, "ab.txt");
  writeFileSync(a, lines.slice(0, 3000).join("\n") + "\n");
  writeFileSync(b, lines.slice(3000).join("\n") + "\n");
  writeFileSync(ab, lines.join("\n") + "\n");
  const test = join(SHARED, "criteo/test.txt");
  const two = report(run("train", "--train", a, "--train", b, "--test", test, "--json", "--epochs", "3"));
  const one = report(run("train", "--train", ab, "--test", test, "--json", "--epochs", "3"));
  assert.equal(two.modelSha256, one.modelSha256);
  // A quoted pattern: the matches in name order (a.txt, b.txt).
  const glob = report(run("train", "--train", join(dir, "?.txt"), "--test", test, "--json", "--epochs", "3"));
  assert.equal(glob.modelSha256, one.modelSha256);
  assert.match(run("train", "--train", join(dir, "none*.txt")).err, /none\*\.txt: no file matches/);
  assert.equal(two.auc, one.auc);
  assert.equal(two.rows, 6480);
});

test("an Avazu test file without its header line, and an Avazu hour cut by tail", { skip: !have && "shared data not present" }, () => {
  const lines = readFileSync(join(SHARED, "avazu/sample.csv"), "utf8").trimEnd().split("\n");
  const train = join(dir, "avazu-train.csv"), tail = join(dir, "avazu-test.csv");
  writeFileSync(train, lines.slice(0, 801).join("\n") + "\n");
  writeFileSync(tail, lines.slice(801).join("\n") + "\n");
  const r = report(run("train", "--train", train, "--test", tail, "--json"));
  assert.equal(r.testRows, 199);
  assert.ok((r.auc as number) > 0.5);
});

test("a headerless CSV of categorical columns with --label-column; predict scores as eval does", () => {
  // label in column 2 of 5; column 0 decides the click, column 4 is noise.
  const rows: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const a = i % 7, noise = (i * 2654435761) % 1000;
    const y = (a < 3) !== (i % 10 === 0) ? 1 : 0;
    rows.push([`a${a}`, `b${i % 3}`, y, `c${i % 11}`, `n${noise}`].join(","));
  }
  const csv = join(dir, "plain.csv");
  writeFileSync(csv, rows.join("\n") + "\n");
  const out = join(dir, "csv-run");
  const r = report(run("train", "--train", csv, "--format", "csv", "--label-column", "2", "--holdout", "0.2", "--out", out, "--json"));
  assert.ok((r.auc as number) > 0.85, `AUC ${r.auc}`);
  const e = JSON.parse(run("eval", "--model", join(out, "model.sparsectr"), "--data", csv, "--json").out);
  assert.equal(e.rows, 3000);
  const p = run("predict", "--model", join(out, "model.sparsectr"), "--data", csv);
  assert.equal(p.code, 0, p.err);
  assert.equal(p.out.trim().split("\n").length, 3000);
  // Integer codes behind the label, no header (a pre-encoded data set): detected, no option needed.
  const codes = join(dir, "codes.csv");
  writeFileSync(codes, rows.map((l) => { const c = l.split(","); return [c[2], c[0].slice(1), c[1].slice(1), c[3].slice(1), c[4].slice(1)].join(","); }).join("\n") + "\n");
  const detected = report(run("train", "--train", codes, "--holdout", "0.2", "--json"));
  assert.ok((detected.auc as number) > 0.85, `AUC ${detected.auc}`);
  assert.equal(detected.testRows, 600);
  const bad = run("train", "--train", csv, "--format", "csv", "--label-column", "5", "--json");
  assert.equal(bad.code, 1);
  assert.match(bad.err, /plain\.csv:1: labelColumn 5 is not a column of the first line: it has 5 comma-separated columns/);
});

test("libfm labels -1/+1; bad rows are reported as met and stop the run past --max-bad-rows", () => {
  const lines: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const u = i % 50, it = (i * 7) % 120;
    const y = (u % 3 === 0) !== (i % 17 === 0) ? "+1" : "-1";
    lines.push(`${y} ${u}:1 ${1000 + it}:1 ${2000 + (i % 5)}:1`);
  }
  const fm = join(dir, "train.libfm");
  writeFileSync(fm, lines.join("\n") + "\n");
  const r = report(run("train", "--train", fm, "--holdout", "0.2", "--json"));
  assert.ok((r.auc as number) > 0.6, `AUC ${r.auc}`);
  // 3% of the rows broken: over the default 1% limit the run stops naming them; at 5% it trains.
  const broken = lines.map((l, i) => (i % 33 === 5 ? l.replace(":1 ", ":x ") : l));
  const bfm = join(dir, "broken.libfm");
  writeFileSync(bfm, broken.join("\n") + "\n");
  const stop = run("train", "--train", bfm, "--skip-bad-rows", "--holdout", "0.2");
  assert.equal(stop.code, 1);
  assert.match(stop.err, /skipped a bad row: .*broken\.libfm:6: column 2/);
  assert.match(stop.err, /--max-bad-rows/);
  const ok = report(run("train", "--train", bfm, "--skip-bad-rows", "--max-bad-rows", "5%", "--holdout", "0.2", "--json"));
  // The training pass meets the broken rows of the training part: 1440 rows
  // (the holdout takes the last 400, validation the 160 before them).
  const brokenInTraining = broken.slice(0, 1440).filter((l) => l.includes(":x")).length;
  assert.equal(ok.skippedRows, brokenInTraining);
  // One pass and a refit on the validation rows (entered at a seek point): the report counts the rows both passes skipped.
  const refit = report(run("train", "--train", bfm, "--skip-bad-rows", "--max-bad-rows", "5%", "--holdout", "0.2", "--epochs", "1", "--shuffle", "off", "--refit", "on", "--json"));
  const brokenInValidation = broken.slice(1440, 1600).filter((l) => l.includes(":x")).length;
  assert.ok(brokenInValidation > 0);
  assert.equal(refit.refitRows, 160 - brokenInValidation);
  assert.equal(refit.skippedRows, brokenInTraining + brokenInValidation);
  // The summary says as much.
  const text = run("train", "--train", bfm, "--skip-bad-rows", "--max-bad-rows", "5%", "--holdout", "0.2", "--epochs", "1", "--shuffle", "off", "--refit", "on");
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, new RegExp(`skipped ${brokenInTraining + brokenInValidation} malformed rows, the first: `));
});

test("multi-valued fields (CSV separators) and feature values (libsvm idx:v) train end to end; the exported model pools and scores as the trained one", () => {
  // tags: 1-3 of 12 tags, three of them raise the click rate; the first rows have one tag each,
  // so the shuffled rows switch to the bag layout midway.
  const rows: string[] = ["y,user,tags"];
  let s = 7;
  const rnd = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  for (let i = 0; i < 4000; i++) {
    const k = i < 200 ? 1 : 1 + Math.floor(rnd() * 3);
    const tags = Array.from({ length: k }, () => Math.floor(rnd() * 12));
    const p = tags.some((t) => t < 3) ? 0.7 : 0.15;
    rows.push(`${rnd() < p ? 1 : 0},u${i % 40},${tags.map((t) => `t${t}`).join("|")}`);
  }
  const csv = join(dir, "tags.csv"), schema = join(dir, "tags.schema.json");
  writeFileSync(csv, rows.join("\n") + "\n");
  writeFileSync(schema, JSON.stringify({ label: "y", categorical: ["user", "tags"], separators: { tags: "|" } }));
  for (const pooling of ["mean", "sum"]) {
    const out = join(dir, `tags-${pooling}`);
    const r = report(run("train", "--train", csv, "--schema", schema, "--holdout", "0.25", "--pooling", pooling, "--out", out, "--json"));
    assert.ok((r.auc as number) > 0.7, `${pooling}: AUC ${r.auc}`);
    // eval of the exported model on the held-out rows, cut into a file of their own, equals the trained model's test AUC.
    const held = join(dir, `held-${pooling}.csv`);
    writeFileSync(held, [rows[0], ...rows.slice(1 + 3000)].join("\n") + "\n");
    const e = JSON.parse(run("eval", "--model", join(out, "model.sparsectr"), "--data", held, "--json").out);
    assert.equal(e.rows, 1000);
    assert.ok(Math.abs(e.auc - (r.auc as number)) < 1e-12, `${pooling}: served AUC ${e.auc} vs trained ${r.auc}`);
  }
  // libsvm values: the value scales its feature; 0 is absent.
  const fm: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const v = rnd();
    fm.push(`${rnd() < 0.1 + 0.7 * v ? 1 : 0} 1:${v.toFixed(3)} ${10 + (i % 7)}:1 ${20 + (i % 5)}:${i % 5 === 0 ? 0 : 1}`);
  }
  const fmPath = join(dir, "values.fm");
  writeFileSync(fmPath, fm.join("\n") + "\n");
  const out = join(dir, "values");
  const r = report(run("train", "--train", fmPath, "--holdout", "0.2", "--out", out, "--json"));
  assert.ok((r.auc as number) > 0.7, `values: AUC ${r.auc} (the value of feature 1 carries the signal)`);
  const held = join(dir, "values-held.fm");
  writeFileSync(held, fm.slice(2400).join("\n") + "\n");
  const e = JSON.parse(run("eval", "--model", join(out, "model.sparsectr"), "--data", held, "--json").out);
  assert.ok(Math.abs(e.auc - (r.auc as number)) < 1e-12, `served AUC ${e.auc} vs trained ${r.auc}`);
});
