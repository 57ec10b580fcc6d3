// `sparsectr experiment`: a whole (tiny) `paper` run, then checks that do not
// trust the aggregation: every printed number of the report is recomputed from
// the per-seed values stored in results.json (means, standard deviations and
// Welch t-tests computed here), the run is resumable (a second run computes no
// cell and gives the same results; deleted cells are computed again, in this
// thread instead of worker threads, with the same numbers), and the figures
// are written as SVG and PNG.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runExperiment, type ExperimentOptions } from "../../src/experiments/experiment.js";
import { welchTTest } from "../../src/experiments/stats.js";
import { interpolateLog, type Results, type Stat } from "../../src/experiments/results.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sparsectr-exp-test-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

// Tiny everything: 4,000 Criteo rows, 6,000 Avazu rows, 1,200 iPinYou rows; 3 seeds; 2-point grids.
const OPTS: ExperimentOptions = {
  name: "paper", out: dir, repeats: 3, scale: 0.02, jobs: 2,
  l21Grid: [5e-4, 5e-3], fig2Grid: [5e-4, 5e-3], fig3Grid: [5e-4, 5e-3], ks: [0, 20], embeddings: [4, 8],
};

let first: Results, firstSeconds = 0;

function plain(r: Results): unknown {
  // Everything but the run's own bookkeeping (times, cells computed).
  const { run: _run, ...rest } = r;
  return JSON.parse(JSON.stringify(rest));
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const sd = (xs: number[]): number => Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1));

/** True when `printed` is `value` rounded to the printed digits. */
function roundsTo(printed: string, value: number): boolean {
  const p = Number(printed);
  if (!Number.isFinite(p)) return false;
  let unit: number;
  const m = /^-?\d*\.?(\d*)e([+-]\d+)$/.exec(printed);
  if (m) unit = 10 ** (Number(m[2]) - m[1].length);
  else unit = 10 ** -((printed.split(".")[1] ?? "").length);
  return Math.abs(p - value) <= unit / 2 + 1e-12;
}

/** Table rows under a heading: arrays of cells. */
function tableAfter(md: string, heading: string): { head: string[]; rows: string[][] } {
  const lines = md.split("\n");
  let i = lines.findIndex((l) => l.startsWith(heading));
  assert.ok(i >= 0, `no section ${heading}`);
  while (!lines[i].startsWith("|")) i++;
  const cells = (l: string): string[] => l.slice(1, -1).split(" | ").map((c) => c.trim());
  const head = cells(lines[i]);
  const rows: string[][] = [];
  for (i += 2; i < lines.length && lines[i].startsWith("|"); i++) rows.push(cells(lines[i]));
  return { head, rows };
}

/** "0.6123 ± 0.0040 (0.045)", bold or not: AUC mean, sd, feature rate. */
function parseCell(c: string): { mean: string; sd: string; rate: string } {
  const m = /^\**([\d.]+) ± ([\d.]+)\** \(([^)]+)\)$/.exec(c);
  assert.ok(m, `cell "${c}"`);
  return { mean: m[1], sd: m[2], rate: m[3] };
}

function checkAucCell(c: string, auc: Stat, rate: Stat, what: string): void {
  const x = parseCell(c);
  assert.ok(roundsTo(x.mean, mean(auc.values)), `${what}: AUC ${x.mean} vs ${mean(auc.values)}`);
  assert.ok(roundsTo(x.sd, sd(auc.values)), `${what}: sd ${x.sd} vs ${sd(auc.values)}`);
  assert.ok(roundsTo(x.rate, mean(rate.values)), `${what}: rate ${x.rate} vs ${mean(rate.values)}`);
}

function checkP(printed: string, a: number[], b: number[], what: string): void {
  const p = welchTTest(a, b).p;
  assert.ok(roundsTo(printed, p), `${what}: p ${printed} vs ${p}`);
}

test("experiment paper (tiny): runs every section, writes results.json, report.md and figures", async () => {
  const t0 = Date.now();
  first = (await runExperiment(OPTS)).results;
  firstSeconds = (Date.now() - t0) / 1000;
  for (const f of ["results.json", "report.md", "figures/fig1.svg", "figures/fig1.png", "figures/fig2.png", "figures/fig3.png"]) assert.ok(existsSync(join(dir, f)), f);
  const onDisk = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as Results;
  assert.deepEqual(plain(onDisk), plain(first));
  assert.equal(first.table2!.rows.length, 3 * 2);
  assert.equal(first.table3!.rows.length, 3);
  assert.equal(first.table4!.rows.length, 2);
  assert.equal(first.claims.length, 5);
  assert.ok(first.claims.every((c) => c.verdict !== "not run"), JSON.stringify(first.claims));
  assert.ok(first.run!.ran > 0 && first.run!.skipped === 0);
  // Sparsity matching: the pruned Adam keeps exactly the feature count Group Adam reached, seed by seed.
  for (const row of first.table2!.rows) assert.deepEqual(row.adamPruned.liveFeatures.values, row.groupAdam.liveFeatures.values, `${row.dataset} l21 ${row.l21}`);
});

test("report numbers equal results.json: means, standard deviations and t-tests recomputed from the per-seed values", () => {
  const md = readFileSync(join(dir, "report.md"), "utf8");
  const r = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as Results;
  // Table 2: one row per l21, three columns per dataset.
  const t2 = tableAfter(md, "## Table 2");
  assert.equal(t2.rows.length, r.settings.l21Grid.length);
  let checked = 0;
  for (const row of r.table2!.rows) {
    const line = t2.rows.find((c) => Number(c[0]) === row.l21)!;
    const col = t2.head.indexOf(`${row.label} Adam + pruning`);
    assert.ok(col > 0, `column of ${row.label}`);
    checkAucCell(line[col], row.adamPruned.auc, row.adamPruned.featureRate, `${row.label} adam ${row.l21}`);
    checkAucCell(line[col + 1], row.groupAdam.auc, row.groupAdam.featureRate, `${row.label} group-adam ${row.l21}`);
    checkP(line[col + 2], row.groupAdam.auc.values, row.adamPruned.auc.values, `${row.label} ${row.l21}`);
    assert.ok(Math.abs(row.pAuc!.p - welchTTest(row.groupAdam.auc.values, row.adamPruned.auc.values).p) < 1e-12);
    // The bold one is the better mean.
    const gaBold = line[col + 1].startsWith("**");
    assert.equal(gaBold, mean(row.groupAdam.auc.values) >= mean(row.adamPruned.auc.values));
    checked += 3;
  }
  // Table 3: per dataset, two pairs with the p-values of AUC and (in parentheses) feature rate.
  const t3 = tableAfter(md, "## Table 3");
  for (const row of r.table3!.rows) {
    const line = t3.rows.find((c) => c[0] === row.label)!;
    checkAucCell(line[1], row.adam.auc, row.adam.featureRate, `${row.label} adam`);
    checkAucCell(line[2], row.groupAdam.auc, row.groupAdam.featureRate, `${row.label} group-adam`);
    const [pa, pr] = /^(\S+) \((\S+)\)$/.exec(line[3])!.slice(1);
    checkP(pa, row.groupAdam.auc.values, row.adam.auc.values, `${row.label} table 3 AUC`);
    checkP(pr, row.groupAdam.featureRate.values, row.adam.featureRate.values, `${row.label} table 3 rate`);
    checkAucCell(line[4], row.adagrad.auc, row.adagrad.featureRate, `${row.label} adagrad`);
    checkAucCell(line[5], row.groupAdagrad.auc, row.groupAdagrad.featureRate, `${row.label} group-adagrad`);
    const [qa, qr] = /^(\S+) \((\S+)\)$/.exec(line[6])!.slice(1);
    checkP(qa, row.groupAdagrad.auc.values, row.adagrad.auc.values, `${row.label} adagrad AUC`);
    checkP(qr, row.groupAdagrad.featureRate.values, row.adagrad.featureRate.values, `${row.label} adagrad rate`);
    checked += 6;
  }
  // Table 4: "rate ± sd (AUC ± sd)" and the p-values against the previous width.
  const t4 = tableAfter(md, "## Table 4");
  r.table4!.rows.forEach((row, i) => {
    const line = t4.rows[i];
    assert.equal(Number(line[0]), row.embedding);
    const m = /^(\S+) ± (\S+) \((\S+) ± (\S+)\)$/.exec(line[1])!;
    assert.ok(roundsTo(m[1], mean(row.groupAdam.featureRate.values)) && roundsTo(m[2], sd(row.groupAdam.featureRate.values)), line[1]);
    assert.ok(roundsTo(m[3], mean(row.groupAdam.auc.values)) && roundsTo(m[4], sd(row.groupAdam.auc.values)), line[1]);
    if (i > 0) checkP(line[2], row.groupAdam.featureRate.values, r.table4!.rows[i - 1].groupAdam.featureRate.values, `table 4 ${row.embedding}`);
  });
  // Fig. 2: the raw AUC against the scaled curve interpolated at the same feature rate, seed by seed.
  const f2 = tableAfter(md, "At equal sparsity");
  r.fig2!.comparisons.forEach((c, i) => {
    const line = f2.rows[i];
    const interp = r.settings.seeds.map((_, s) => interpolateLog(r.fig2!.scaled.map((p) => ({ x: p.featureRate.values[s], y: p.auc.values[s] })), c.featureRate.values[s]));
    if (interp.every((y) => y !== null)) {
      assert.ok(roundsTo(line[3].split(" ± ")[0], mean(interp as number[])), `fig2 ${c.l21}: ${line[3]}`);
      checkP(line[4], c.raw.values, interp as number[], `fig2 ${c.l21}`);
    } else {
      assert.ok(c.scaledAtSameRate === null || c.p === null);
    }
  });
  // Fig. 3: feature rates of l1 and l21 and the p-value of their difference.
  const f3 = tableAfter(md, "## Fig. 3");
  r.fig3!.l1.forEach((p, i) => {
    const line = f3.rows[i];
    assert.ok(roundsTo(line[1].split(" ± ")[0], mean(p.featureRate.values)), line[1]);
    assert.ok(roundsTo(line[2].split(" ± ")[0], mean(r.fig3!.l21[i].featureRate.values)), line[2]);
    checkP(line[3], r.fig3!.l21[i].featureRate.values, p.featureRate.values, `fig3 ${p.strength}`);
  });
  assert.ok(checked >= 30);
});

test("resumable: a second run computes no cell and gives the same results; deleted cells are computed again (in this thread) with the same numbers", async () => {
  const t0 = Date.now();
  const again = (await runExperiment(OPTS)).results;
  const seconds = (Date.now() - t0) / 1000;
  assert.equal(again.run!.ran, 0);
  assert.equal(again.run!.skipped, first.run!.cells);
  assert.deepEqual(plain(again), plain(first));
  assert.ok(seconds < firstSeconds / 3, `second run ${seconds} s vs first ${firstSeconds} s`);
  // Delete a third of the cells: exactly those are computed again, by the main thread this time.
  const cells = readdirSync(join(dir, "cells")).filter((f) => f.endsWith(".json")).sort();
  const gone = cells.filter((_, i) => i % 3 === 0);
  for (const f of gone) unlinkSync(join(dir, "cells", f));
  const third = (await runExperiment({ ...OPTS, jobs: 1 })).results;
  assert.equal(third.run!.ran, gone.length);
  assert.deepEqual(plain(third), plain(first));
});

test("experiment command: --help, and usage errors exit with 2", () => {
  const help = spawnSync(process.execPath, [CLI, "experiment", "--help"], { encoding: "utf8" });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /table2/);
  assert.match(help.stdout, /--repeats/);
  for (const args of [["experiment"], ["experiment", "table9", "--out", dir], ["experiment", "table2"], ["experiment", "table2", "--out", dir, "--ks", "0,x"]]) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
  }
});
