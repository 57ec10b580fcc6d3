// `sparsectr train` with data-parallel worker threads (--threads N
// --parallel): the report names the trainer; checkpoints record each
// worker's position; a run killed with SIGKILL after a checkpoint resumes
// with as many workers and ends as good as an uninterrupted one; the
// deterministic trainer refuses such a checkpoint; bad rows skipped and a
// memory budget work with several workers; unsupported runs fall back to
// the deterministic trainer (or are refused with --parallel); a gzip file is
// copied inflated for the workers by the counting pass; threads score the
// validation and test rows after a run where they pay, with the figures of one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { hasCheckpoint, readCheckpoint } from "../../src/train/checkpoint.js";

const CLI = new URL("../../src/cli/main.js", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "sparsectr-parallel-cli-"));
const data = join(dir, "train.txt");
await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 5, scale: 0.02 })), { format: "criteo", start: 0, rows: 80_000, out: data, truth: null });
test.after(() => rmSync(dir, { recursive: true, force: true }));

const ARGS = ["--train", data, "--holdout-rows", "10000", "--model", "dcn", "--batch", "256", "--epochs", "2", "--shuffle", "off",
  "--seed", "3", "--checkpoint-every", "8192", "--threads", "2", "--parallel", "--json"];

function run(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, "train", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const report = (out: string): Record<string, unknown> => JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;

test("two workers: killed after a checkpoint and resumed, the run ends as good as an uninterrupted one", async () => {
  const ref = run([...ARGS, "--out", join(dir, "ref")]);
  assert.equal(ref.code, 0, ref.err);
  const want = report(ref.out);
  assert.equal(want.trainer, "parallel");
  assert.equal(want.threads, 2);
  assert.ok((want.rows as number) > 60_000);

  const out = join(dir, "killed");
  const child = spawn(process.execPath, [CLI, "train", ...ARGS, "--out", out], { stdio: "ignore" });
  const closed = new Promise<number | null>((res) => child.on("close", res));
  for (let i = 0; i < 3000 && !hasCheckpoint(out); i++) await new Promise((r) => setTimeout(r, 10));
  child.kill("SIGKILL");
  assert.equal(await closed, null, "killed before it finished");
  const ck = readCheckpoint(out).meta.position;
  assert.equal(ck.done, false);
  assert.equal(ck.parts?.length, 2, "each worker's position is recorded");
  assert.ok(ck.rows > 0 && ck.rows < 140_000);

  const det = run(["--resume", out, "--deterministic", "--json"]);
  assert.notEqual(det.code, 0);
  assert.match(det.err, /checkpointed with 2 worker threads|does not support/);

  const again = run(["--resume", out, "--json"]);
  assert.equal(again.code, 0, again.err);
  const got = report(again.out);
  assert.equal(got.trainer, "parallel");
  assert.equal(got.resumed, true);
  assert.equal(got.steps, want.steps, "the resumed run trains the remaining rounds");
  assert.equal(got.rows, want.rows);
  assert.ok(Math.abs((got.auc as number) - (want.auc as number)) < 0.01, `AUC ${got.auc as number} vs ${want.auc as number}`);
  assert.equal(readCheckpoint(out).meta.position.done, true);
});

test("runs the data-parallel trainer cannot take: the deterministic one trains them, or --parallel refuses", () => {
  const base = ["--train", data, "--holdout-rows", "10000", "--model", "dcn", "--epochs", "1", "--json"];
  // Shuffled passes hold the rows in memory: not split between workers.
  const fallback = run([...base, "--shuffle", "on", "--threads", "3"]);
  assert.equal(fallback.code, 0, fallback.err);
  assert.equal(report(fallback.out).trainer, "deterministic");
  // No validation or test rows: the workers split every row of the file.
  const whole = run(["--train", data, "--val-fraction", "0", "--model", "dcn", "--epochs", "1", "--shuffle", "off", "--threads", "2", "--parallel", "--json"]);
  assert.equal(whole.code, 0, whole.err);
  assert.equal(report(whole.out).trainer, "parallel");
  // Standard input is spooled to a file first: the workers split that file.
  const piped = spawnSync(process.execPath, [CLI, "train", "--train", "-", "--val-fraction", "0", "--model", "dcn", "--epochs", "1", "--shuffle", "off", "--threads", "2", "--parallel", "--json"], { input: readFileSync(data), encoding: "utf8" });
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(report(piped.stdout).trainer, "parallel");
  assert.equal(report(piped.stdout).rows, 80_000);
  // Bad rows in two workers' parts: each skips its own, the run reports them all.
  const bad = join(dir, "bad.txt"), lines = readFileSync(data, "utf8").split("\n");
  lines[5000] = lines[60000] = "not a row";
  writeFileSync(bad, lines.join("\n"));
  const skipping = run([...base.map((a) => (a === data ? bad : a)), "--shuffle", "off", "--threads", "3", "--skip-bad-rows"]);
  assert.equal(skipping.code, 0, skipping.err);
  assert.equal(report(skipping.out).trainer, "parallel");
  assert.equal(report(skipping.out).skippedRows, 2);
  // A memory budget: rows evicted and counts forgotten between rounds (of a batch of each worker).
  const budget = report(run([...base, "--shuffle", "off", "--threads", "3", "--batch", "128", "--dense-updates", "sequential", "--max-memory", "6M", "--evict"]).out);
  assert.equal(budget.trainer, "parallel");
  assert.ok((budget.evictions as number) > 0 && (budget.forgottenCounts as number) > 0 && (budget.tableRows as number) <= (budget.maxFeatures as number), JSON.stringify(budget));
  // One too small for the workers' rounds: the deterministic trainer takes it.
  const small = run([...base, "--shuffle", "off", "--threads", "3", "--batch", "128", "--dense-updates", "sequential", "--max-memory", "2M", "--evict"]);
  assert.equal(small.code, 0, small.err);
  assert.equal(report(small.out).trainer, "deterministic");
  // Split rounds bring one batch over all the workers: the same budget is room enough for them, and they evict.
  const split = report(run([...base, "--shuffle", "off", "--threads", "3", "--batch", "128", "--dense-updates", "split", "--max-memory", "2M", "--evict"]).out);
  assert.deepEqual([split.trainer, split.denseUpdates], ["parallel", "split"]);
  assert.ok((split.evictions as number) > 0 && (split.tableRows as number) <= (split.maxFeatures as number), JSON.stringify(split));
  const refused = run([...base, "--shuffle", "on", "--threads", "2", "--parallel"]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.err, /data-parallel training does not support shuffled passes/);
  const async = run([...base, "--shuffle", "off", "--threads", "2", "--parallel", "--dense-updates", "async"]);
  assert.equal(async.code, 0, async.err);
  assert.equal(report(async.out).trainer, "parallel");
  assert.equal(report(async.out).denseUpdates, "async");
  // Asked for with group-lasso dense layers, async is a usage error (not a silent fallback to one worker).
  const asyncGroup = run([...base, "--shuffle", "off", "--threads", "3", "--dense", "group", "--dense-updates", "async"]);
  assert.equal(asyncGroup.code, 2, asyncGroup.err);
  assert.match(asyncGroup.err, /does not support asynchronous dense updates of group-lasso dense layers \(--dense group; use --dense-updates sequential\)/);
  const both = run([...base, "--deterministic", "--parallel"]);
  assert.notEqual(both.code, 0);
  assert.match(both.err, /exclude each other/);
});

test("without --threads a run takes every core, with sequential dense updates where each worker makes 1,000 rounds, else split; sequential asked for takes at most one worker per 1,000 batches, and says so", () => {
  // 80,000 rows of batch 32 are 2,500 batches (2 workers of 1,000 rounds at most); of batch 64, 1,250 (1): with --parallel.
  const cores = availableParallelism();
  const base = ["--train", data, "--val-fraction", "0", "--model", "dcn", "--epochs", "1", "--shuffle", "off", "--parallel", "--json"];
  const small = run([...base, "--batch", "32"]);
  assert.equal(small.code, 0, small.err);
  assert.deepEqual([report(small.out).trainer, report(small.out).threads, report(small.out).denseUpdates], ["parallel", cores, cores <= 2 ? "sequential" : "split"]);
  const large = run([...base, "--batch", "64"]);
  assert.equal(large.code, 0, large.err);
  assert.deepEqual([report(large.out).trainer, report(large.out).threads, report(large.out).denseUpdates], ["parallel", cores, cores === 1 ? "sequential" : "split"]);
  const capped = run([...base, "--batch", "64", "--dense-updates", "sequential"]);
  assert.deepEqual([report(capped.out).trainer, report(capped.out).threads, report(capped.out).denseUpdates], ["parallel", 1, "sequential"]);
  if (cores > 1) {
    const told = run([...base.filter((a) => a !== "--json"), "--batch", "64", "--dense-updates", "sequential"]);
    assert.match(told.err, new RegExp(`training with 1 data-parallel worker, not ${cores}: 80000 training rows make ${Math.floor(80_000 / (cores * 64))} rounds of a batch per worker with ${cores}, and below 1000 the AUC drops`));
    const given = run([...base, "--batch", "64", "--threads", String(cores), "--dense-updates", "sequential"]);
    assert.deepEqual([report(given.out).trainer, report(given.out).threads, report(given.out).denseUpdates], ["parallel", cores, "sequential"]);
  }
});

test("a gzip training file: the counting pass copies it inflated to TMPDIR for the workers, and the copy is gone after the run", () => {
  const gz = join(dir, "train.txt.gz");
  writeFileSync(gz, gzipSync(readFileSync(data)));
  const args = ["--train", gz, "--holdout-rows", "10000", "--model", "dcn", "--epochs", "1", "--shuffle", "off", "--threads", "2", "--parallel", "--json"];
  const tmp = mkdtempSync(join(dir, "tmp-"));
  const r = spawnSync(process.execPath, [CLI, "train", ...args], { encoding: "utf8", env: { ...process.env, TMPDIR: tmp } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(report(r.stdout).trainer, "parallel");
  assert.equal(report(r.stdout).rows, 63_000, "the training rows less the validation rows");
  assert.deepEqual(readdirSync(tmp), [], "no copy left");
  // A TMPDIR that cannot take the copy: a warning naming the file, and the workers read the gzip stream.
  const no = spawnSync(process.execPath, [CLI, "train", ...args], { encoding: "utf8", env: { ...process.env, TMPDIR: join(dir, "no-such-folder") } });
  assert.equal(no.status, 0, no.stderr);
  assert.match(no.stderr, /train\.txt\.gz: no inflated copy in .*no-such-folder.*read the gzip stream each instead/);
  assert.deepEqual(report(no.stdout).rows, 63_000);
});

test("split dense updates through the CLI: one batch a round over the workers, every row trained, one table step a round", () => {
  const r = run(["--train", data, "--holdout-rows", "10000", "--model", "dcn", "--epochs", "1", "--shuffle", "off", "--threads", "3", "--parallel", "--dense-updates", "split", "--batch", "300", "--json"]);
  assert.equal(r.code, 0, r.err);
  const rep = report(r.out);
  assert.equal(rep.trainer, "parallel");
  assert.equal(rep.denseUpdates, "split");
  assert.equal(rep.rows, 63_000);
  // Rounds of 3 x 100 rows: the deterministic trainer's steps of 300 rows.
  assert.equal(rep.steps, Math.ceil(63_000 / 300));
});

test("the validation rows train last with the run's workers after a data-parallel run (one thread after a deterministic one)", () => {
  const base = ["--train", data, "--holdout-rows", "10000", "--val-fraction", "0.1", "--refit", "on", "--model", "dcn", "--epochs", "1", "--shuffle", "off", "--json"];
  const par = run([...base, "--threads", "3", "--parallel"]);
  assert.equal(par.code, 0, par.err);
  const p = report(par.out);
  assert.deepEqual([p.trainer, p.threads, p.refitThreads], ["parallel", 3, 3]);
  const det = run([...base, "--threads", "2", "--deterministic"]);
  assert.equal(det.code, 0, det.err);
  const d = report(det.out);
  assert.deepEqual([d.trainer, d.refitThreads], ["deterministic", 1]);
  assert.ok((p.refitRows as number) > 0 && p.refitRows === d.refitRows, `refit rows ${p.refitRows as number} and ${d.refitRows as number}`);
  assert.equal(p.rows, d.rows, "every row trains once");
  assert.ok(Math.abs((p.auc as number) - (d.auc as number)) < 0.01, `AUC ${p.auc as number} vs ${d.auc as number}`);
});

test("threads score the validation and test rows after a run where they pay: the same figures and model as one thread", async () => {
  const big = join(dir, "big.txt");
  await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 6, scale: 0.02 })), { format: "criteo", start: 0, rows: 160_000, out: big, truth: null });
  const base = ["--train", data, "--validation", big, "--test", big, "--model", "dcn", "--epochs", "1", "--shuffle", "off", "--json"];
  const three = run([...base, "--threads", "3", "--deterministic"]), one = run([...base, "--threads", "1"]);
  assert.equal(three.code, 0, three.err);
  assert.equal(one.code, 0, one.err);
  const a = report(three.out), b = report(one.out);
  // 160,000 rows x (1 - 1/3) pass START_ROWS (100,000): three threads score them; one thread, itself.
  assert.deepEqual([a.trainer, a.testThreads, a.calibrationThreads], ["deterministic", 3, 3]);
  assert.deepEqual([b.trainer, b.testThreads, b.calibrationThreads], ["deterministic", 1, 1]);
  for (const k of ["auc", "logloss", "testRows", "validationAuc", "calibration", "modelSha256"]) assert.deepEqual(a[k], b[k], k);
  assert.equal(a.testRows, 160_000);
});
