// The command line: `sparsectr plot DIR` on a run folder still being written
// (a partial last line): the two files, their paths and the count of
// evaluations in text and --json; a folder without metrics.jsonl (exit 1, the
// path named, no stack trace) and a missing DIR (exit 2).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });

function metricsText(evaluations: number, ticks: number): string {
  const out: string[] = [];
  for (let t = 1; t <= ticks; t++) {
    const base = { seconds: t * 0.5, rows: t * 512, epoch: 1, trainLoss: 0.6 - t * 0.001, featureRate: 1 / (1 + t / 10), liveFeatures: 100, features: 1000, rowsPerSec: 1024, rssBytes: 2e8 };
    out.push(JSON.stringify({ kind: "progress", ...base }));
    if (t % (ticks / evaluations) === 0) out.push(JSON.stringify({ kind: "evaluation", ...base, valAuc: 0.7 + t / 1e4, valLogloss: 0.5 - t / 1e4 }));
  }
  return out.join("\n") + "\n";
}

test("plot: redraws curves.svg and curves.png of a run still writing metrics.jsonl, in text and --json", () => {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-plot-"));
  try {
    // Four evaluations, then a line the run is still writing.
    writeFileSync(join(dir, "metrics.jsonl"), metricsText(4, 40) + '{"kind":"progress","seconds":20.5,"rows":20');
    const r = run("plot", dir);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${join(dir, "curves.svg")}\n${join(dir, "curves.png")}\n4 evaluations, 40 progress lines\n`);
    const svg = readFileSync(join(dir, "curves.svg"), "utf8");
    assert.equal((svg.match(/class="val-auc"/g) ?? []).length, 4);
    assert.equal((svg.match(/class="val-logloss"/g) ?? []).length, 4);
    const png = readFileSync(join(dir, "curves.png"));
    assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [2040, 590]);

    // The run goes on: the partial line completes, a fifth evaluation and the summary follow.
    writeFileSync(join(dir, "metrics.jsonl"), metricsText(5, 50) + JSON.stringify({ auc: 0.71, logloss: 0.45 }) + "\n");
    const before = statSync(join(dir, "curves.png")).mtimeMs;
    const j = run("plot", dir, "--json", "--title", "dcn, group-adam");
    assert.equal(j.status, 0, j.stderr);
    assert.equal(j.stdout.trim().split("\n").length, 1);
    assert.deepEqual(JSON.parse(j.stdout), { svg: join(dir, "curves.svg"), png: join(dir, "curves.png"), evaluations: 5, progress: 50 });
    const svg2 = readFileSync(join(dir, "curves.svg"), "utf8");
    assert.equal((svg2.match(/class="val-auc"/g) ?? []).length, 5);
    assert.match(svg2, /<title>dcn, group-adam: 5 evaluations, 50 progress lines/);
    assert.ok(statSync(join(dir, "curves.png")).mtimeMs >= before);
    assert.match(run("--help").stdout, /plot +redraw a run's curves/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("plot: a folder without metrics.jsonl (exit 1, the path named) or with a bad line, no DIR or two (exit 2)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-plot-"));
  try {
    const missing = run("plot", dir);
    assert.equal(missing.status, 1);
    assert.equal(missing.stdout, "");
    assert.match(missing.stderr, new RegExp(`^sparsectr plot: ${join(dir, "metrics.jsonl").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: no such file`));
    assert.doesNotMatch(missing.stderr, /at .*\.js/, "no stack trace");
    assert.ok(!existsSync(join(dir, "curves.svg")));

    writeFileSync(join(dir, "metrics.jsonl"), "");
    const empty = run("plot", dir);
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /metrics\.jsonl: no progress or evaluation lines yet/);

    writeFileSync(join(dir, "metrics.jsonl"), metricsText(1, 2) + "garbage\n" + metricsText(1, 2));
    const bad = run("plot", dir);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /metrics\.jsonl:4: not a JSON line/);

    const none = run("plot");
    assert.equal(none.status, 2);
    assert.match(none.stderr, /^sparsectr plot: the run folder DIR is required/);
    assert.equal(run("plot", dir, dir).status, 2);
    assert.equal(run("plot", dir, "--bogus").status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
