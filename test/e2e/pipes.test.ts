// Standard input and output as data (`-`): training through a pipe (plain or
// gzip) gives the model of the same file, scoring through one the same scores
// and AUC; a second `-` is refused; `predict --out -` stops quietly when its
// reader closes early; the spool of a run is removed at exit, or kept in its
// --out folder while the run is unfinished, read by --resume and then removed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sparsectr-pipes-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const g = createGenerator(synthConfig({ preset: "criteo", seed: 5, scale: 0.02 }));
const trainPath = join(dir, "train.txt"), testPath = join(dir, "test.txt");
await generateFiles(g, { format: "criteo", start: 0, rows: 4000, out: trainPath, truth: null });
await generateFiles(g, { format: "criteo", start: 4000, rows: 1000, out: testPath, truth: null });
const trainBytes = readFileSync(trainPath), testBytes = readFileSync(testPath);

interface Result { code: number | null; out: string; err: string }

/** The command with `input` on its standard input and TMPDIR set to `tmp` (a folder of the test's). */
function run(args: string[], opts: { input?: Buffer; tmp?: string; env?: Record<string, string> } = {}): Result {
  const env = { ...process.env, ...(opts.tmp ? { TMPDIR: opts.tmp } : {}), ...opts.env };
  const r = spawnSync(process.execPath, [CLI, ...args], { input: opts.input ?? Buffer.alloc(0), env, maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout.toString("utf8"), err: r.stderr.toString("utf8") };
}
function report(r: Result): Record<string, unknown> {
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out.trim().split("\n").pop()!) as Record<string, unknown>;
}
/** A new empty folder for a run's temporary files. */
function tmpFolder(name: string): string {
  const t = join(dir, name);
  mkdirSync(t);
  return t;
}
const spools = (folder: string): string[] => readdirSync(folder).filter((f) => f.includes("stdin"));

// At most two passes over 3600 rows (the last 400 validate): quick, and the training rows are read several times (counting, validation, passes).
const TRAIN = ["--epochs", "2", "--threads", "1", "--seed", "3", "--json"];
const reference = report(run(["train", "--train", trainPath, "--test", testPath, ...TRAIN, "--out", join(dir, "ref")]));
const model = join(dir, "ref", "model.sparsectr");

test("training through a pipe, plain or gzip, gives the model of the same file; the spool is gone after the run", () => {
  // Plain, with --out: spooled in the run folder, removed when the run completes.
  const tmpA = tmpFolder("tmp-a"), outA = join(dir, "piped");
  const a = report(run(["train", "--train", "-", "--test", testPath, ...TRAIN, "--out", outA], { input: trainBytes, tmp: tmpA }));
  assert.equal(a.modelSha256, reference.modelSha256);
  assert.equal(a.auc, reference.auc);
  assert.deepEqual(spools(outA), []);
  assert.deepEqual(readdirSync(tmpA), []);
  // Gzip, without --out: spooled in the temporary folder, removed at exit.
  const tmpB = tmpFolder("tmp-b");
  const b = report(run(["train", "--train", "-", "--test", testPath, ...TRAIN], { input: gzipSync(trainBytes), tmp: tmpB }));
  assert.equal(b.modelSha256, reference.modelSha256);
  assert.deepEqual(readdirSync(tmpB), []);
  // The test file through the pipe instead.
  const tmpC = tmpFolder("tmp-c");
  const c = report(run(["train", "--train", trainPath, "--test", "-", ...TRAIN], { input: testBytes, tmp: tmpC }));
  assert.equal(c.modelSha256, reference.modelSha256);
  assert.equal(c.auc, reference.auc);
  assert.deepEqual(readdirSync(tmpC), []);
  // Validation rows through the pipe (read at every evaluation).
  const valFile = report(run(["train", "--train", trainPath, "--validation", testPath, ...TRAIN]));
  const valPipe = report(run(["train", "--train", trainPath, "--validation", "-", ...TRAIN], { input: testBytes, tmp: tmpC }));
  assert.equal(valPipe.modelSha256, valFile.modelSha256);
  assert.deepEqual(valPipe.curve, valFile.curve);
  assert.deepEqual(readdirSync(tmpC), []);
});

test("an unfinished run keeps its spool in --out; --resume reads it (also from a moved folder) and removes it", () => {
  const out = join(dir, "unfinished");
  const ckpt = ["--checkpoint-every", "1000"];
  // The second checkpoint fails like a full disk: the run stops with an error after the first.
  const failed = run(["train", "--train", "-", "--test", testPath, ...TRAIN, ...ckpt, "--out", out], { input: gzipSync(trainBytes), env: { SPARSECTR_FAULTS: "write-fail=2:0" } });
  assert.equal(failed.code, 1, failed.err);
  assert.match(failed.err, /kept .*sparsectr-stdin-.*\.spool, the spooled standard input of the unfinished run/);
  assert.equal(spools(out).length, 1);
  const moved = join(dir, "moved");
  renameSync(out, moved);
  // Without its spool the run cannot continue: said so.
  const spool = join(moved, spools(moved)[0]);
  renameSync(spool, spool + ".away");
  const gone = run(["train", "--resume", moved, "--json"]);
  assert.equal(gone.code, 1);
  assert.match(gone.err, /read its --train from standard input, and this spooled copy of it is gone/);
  renameSync(spool + ".away", spool);
  const resumed = report(run(["train", "--resume", moved, "--json"]));
  const whole = report(run(["train", "--train", trainPath, "--test", testPath, ...TRAIN, ...ckpt, "--out", join(dir, "whole")]));
  assert.equal(resumed.modelSha256, whole.modelSha256);
  assert.equal(resumed.resumed, true);
  assert.deepEqual(spools(moved), []);
});

test("predict --data - --out - writes the bytes predict --data FILE --out FILE writes; eval --data - the file's AUC", () => {
  const file = join(dir, "scores.txt");
  const r = run(["predict", "--model", model, "--data", testPath, "--out", file]);
  assert.equal(r.code, 0, r.err);
  const want = readFileSync(file, "utf8");
  assert.equal(want.split("\n").length, 1001);
  for (const input of [testBytes, gzipSync(testBytes)]) {
    const p = run(["predict", "--model", model, "--data", "-", "--out", "-"], { input });
    assert.equal(p.code, 0, p.err);
    assert.equal(p.out, want);
    assert.equal(p.err, "");
  }
  const e = run(["eval", "--model", model, "--data", testPath, "--json"]);
  assert.equal(e.code, 0, e.err);
  for (const input of [testBytes, gzipSync(testBytes)]) {
    const s = run(["eval", "--model", model, "--data", "-", "--json"], { input });
    assert.equal(s.code, 0, s.err);
    assert.deepEqual(JSON.parse(s.out), JSON.parse(e.out));
  }
  // A truncated gzip stream is an error, not a short read.
  const cut = gzipSync(testBytes).subarray(0, 20_000);
  const t = run(["eval", "--model", model, "--data", "-"], { input: cut });
  assert.equal(t.code, 1);
  assert.match(t.err, /standard input: the gzip stream is truncated or corrupt/);
});

test("standard input is read by one option only", () => {
  const tmp = tmpFolder("tmp-two");
  for (const args of [["--train", "-", "--test", "-"], ["--train", "-", "--train", "-"], ["--train", trainPath, "--validation", "-", "--test", "-"]]) {
    const r = run(["train", ...args, "--json"], { input: trainBytes, tmp });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /-: standard input can be read by one option only, once/);
  }
  assert.deepEqual(readdirSync(tmp), []);
});

test("predict --out - stops quietly (exit 0, nothing on standard error) when its reader closes early", async () => {
  const input = Buffer.concat(Array.from({ length: 5 }, () => trainBytes));
  const child = spawn(process.execPath, [CLI, "predict", "--model", model, "--data", "-", "--out", "-"], { stdio: ["pipe", "pipe", "pipe"] });
  let err = "", got = 0;
  child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
  child.stdin.on("error", () => { /* the child may exit before reading all of it */ });
  child.stdin.end(input);
  const closed = new Promise<number | null>((res) => child.on("close", (code) => res(code)));
  // Like `| head -1`: read the first scores, then close the pipe.
  await new Promise<void>((res) => child.stdout.once("data", (d: Buffer) => { got = d.length; child.stdout.destroy(); res(); }));
  const code = await closed;
  assert.ok(got > 0);
  assert.equal(err, "");
  assert.equal(code, 0);
});
