// The production loop end to end, on generated days of a drifting stream
// (a known teacher whose informative values move and whose new ids arrive
// each day): `train --init-from` yesterday's run beats a cold start on the
// next day's rows; ten daily increments under --max-memory stay within the
// budget without losing AUC; a run folder holds one copy of the state, a
// metrics file whose last line is the --json report, and the curves.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { parseMetrics } from "../../src/train/metrics-log.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sparsectr-continual-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Day d of the stream: `rows` rows, the day's drift, rows continuing the previous days'. */
async function day(d: number, rows: number, seed = 5): Promise<string> {
  const path = join(dir, `s${seed}-r${rows}-day${d}.txt`);
  if (!existsSync(path)) {
    const g = createGenerator(synthConfig({ preset: "criteo", seed, scale: 0.02, drift: { day: d, churn: 0.1 } }));
    await generateFiles(g, { format: "criteo", start: d * rows, rows, out: path, truth: null });
  }
  return path;
}

interface Report { curve: unknown[]; auc: number; memoryBytes: number; modelSha256: string; features: number; tableRows: number; maxFeatures: number; admissionBytes: number; forgottenCounts: number; initFrom: string | null }

function train(args: string[]): Report {
  const r = spawnSync(process.execPath, [CLI, "train", ...args, "--json"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "", "nothing on stderr with --json");
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

/** The --json reports of the warm-start runs, by folder. */
const warmReports = new Map<string, Report>();

test("warm start: day 2 trained from day 1's run beats a cold start on day 2, on day 3's rows (two seeds)", async () => {
  for (const seed of [5, 6]) {
    const [d1, d2, d3] = [await day(1, 40_000, seed), await day(2, 40_000, seed), await day(3, 40_000, seed)];
    const first = join(dir, `warm-${seed}-1`), warm = join(dir, `warm-${seed}-2`);
    train(["--train", d1, "--out", first]);
    const w = train(["--init-from", first, "--train", d2, "--test", d3, "--out", warm]);
    const c = train(["--train", d2, "--test", d3]);
    assert.equal(w.initFrom, first);
    warmReports.set(warm, w);
    assert.ok(w.auc > c.auc + 0.003, `seed ${seed}: warm ${w.auc.toFixed(4)} vs cold ${c.auc.toFixed(4)}`);
    console.log(`# seed ${seed}: test AUC on day 3, warm start ${w.auc.toFixed(4)}, cold start ${c.auc.toFixed(4)}`);
  }
});

test("ten daily increments under --max-memory: the table and the counts stay within the budget, and the lead over a cold start does not shrink", async () => {
  const budget = 8 << 20;
  let prev: string | undefined, forgotten = 0;
  const aucs: number[] = [], admission: number[] = [];
  for (let d = 0; d < 10; d++) {
    const out = join(dir, `daily-${d}`);
    const r = train([
      ...(prev ? ["--init-from", prev] : []), "--train", await day(d, 20_000, 7), "--test", await day(d + 1, 20_000, 7),
      "--max-memory", String(budget), "--evict", "--out", out,
    ]);
    assert.ok(r.tableRows <= r.maxFeatures, `day ${d}: ${r.tableRows} rows, budget ${r.maxFeatures} features`);
    assert.ok(r.admissionBytes <= 0.2 * budget, `day ${d}: admission counts take ${r.admissionBytes} bytes`);
    forgotten += r.forgottenCounts;
    aucs.push(r.auc);
    admission.push(r.admissionBytes);
    prev = out;
  }
  // Days differ in difficulty: the yardstick of each day is a cold start on it.
  const cold = async (d: number): Promise<number> => train(["--train", await day(d, 20_000, 7), "--test", await day(d + 1, 20_000, 7)]).auc;
  const gain1 = aucs[1] - await cold(1), gain9 = aucs[9] - await cold(9);
  assert.ok(gain1 > 0 && gain9 >= gain1 - 0.005, `AUC by day: ${aucs.map((a) => a.toFixed(4)).join(" ")}; over a cold start: day 1 ${gain1.toFixed(4)}, day 9 ${gain9.toFixed(4)}`);
  assert.ok(forgotten > 0, "new ids arrive each day: the counts of rare ones are forgotten");
  console.log(`# AUC by day ${aucs.map((a) => a.toFixed(4)).join(" ")}; over a cold start: day 1 ${gain1.toFixed(4)}, day 9 ${gain9.toFixed(4)}; admission bytes ${Math.max(...admission)} at most; ${forgotten} counts forgotten`);
});

test("--init-from refuses model settings and an unfinished or missing run, naming them", async () => {
  const d1 = await day(1, 40_000);
  const r = spawnSync(process.execPath, [CLI, "train", "--init-from", join(dir, "warm-5-1"), "--train", d1, "--optimizer", "adam", "--batch", "64"], { encoding: "utf8" });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--init-from .*warm-5-1 continues that run's model with its settings: drop --optimizer, --batch/);
  const none = spawnSync(process.execPath, [CLI, "train", "--init-from", join(dir, "nowhere"), "--train", d1], { encoding: "utf8" });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /--init-from .*nowhere: .*no checkpoint/);
});

test("a run folder: one copy of the state, metrics.jsonl ending with the --json report, curves with one point per evaluation", async () => {
  const out = join(dir, "warm-5-2");
  const files = readdirSync(out).sort();
  assert.deepEqual(files, ["checkpoint.sparsectr-state", "curves.png", "curves.svg", "metrics.jsonl", "model.json", "model.sparsectr"]);
  const { lines, summary } = parseMetrics(readFileSync(join(out, "metrics.jsonl"), "utf8"), "metrics.jsonl");
  const report = warmReports.get(out)!;
  assert.ok(report, "the warm-start test ran first");
  assert.deepEqual(summary, report, "the last line is the run's report");
  const evaluations = lines.filter((l) => l.kind === "evaluation");
  assert.equal(evaluations.length, report.curve.length);
  assert.ok(evaluations.length >= 2);
  const svg = readFileSync(join(out, "curves.svg"), "utf8");
  assert.equal(svg.match(/class="val-auc"/g)?.length, evaluations.length);
  const png = readFileSync(join(out, "curves.png"));
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  // The serving file and export agree with the checkpoint's model.
  const re = join(dir, "re.sparsectr");
  const ex = spawnSync(process.execPath, [CLI, "export", "--from", out, "--out", re], { encoding: "utf8" });
  assert.equal(ex.status, 0, ex.stderr);
  assert.deepEqual(readFileSync(re), readFileSync(join(out, "model.sparsectr")));
});
