// Crash safety of `sparsectr train --out DIR`: runs killed with SIGKILL at
// random moments (many in the middle of a checkpoint write) and resumed each
// time end with the model of an uninterrupted run, bit for bit; a full disk
// (a write failing midway, also the run's last and the finished checkpoint,
// written in the background) keeps the previous checkpoint; a second run cannot
// take a folder in use; a diverging run stops naming its batch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { CHECKPOINT_FILE, hasCheckpoint, readCheckpoint } from "../../src/train/checkpoint.js";
import { decodeEnvelope } from "../../src/io/envelope.js";
import { rng } from "../helpers/rng.js";

const CLI = new URL("../../src/cli/main.js", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "sparsectr-crash-"));
const data = join(dir, "train.txt");
await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 2, scale: 0.01 })), { format: "criteo", start: 0, rows: 60_000, out: data, truth: null });
test.after(() => rmSync(dir, { recursive: true, force: true }));

const ARGS = ["--train", data, "--holdout-rows", "5000", "--model", "dcn", "--optimizer", "group-adam", "--l21", "1e-3",
  "--batch", "128", "--epochs", "4", "--seed", "4", "--checkpoint-every", "2048", "--json"];

function runSync(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, "train", ...args], { encoding: "utf8", env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function report(out: string): Record<string, unknown> {
  return JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
}

const reference = (() => {
  const r = runSync([...ARGS, "--out", join(dir, "ref")]);
  assert.equal(r.code, 0, r.err);
  return report(r.out);
})();

test("killed with SIGKILL 20+ times (also mid-checkpoint) and resumed: the same model bit for bit", async () => {
  const out = join(dir, "killed");
  const r = rng(2026);
  let kills = 0, midWrite = 0, resumes = 0;
  for (;;) {
    const resume = hasCheckpoint(out);
    if (resume) resumes++;
    const args = resume ? ["--resume", out, "--json"] : [...ARGS, "--out", out];
    // Every third run is killed in the middle of a checkpoint write: writes pause
    // halfway (SPARSECTR_FAULTS) and the kill comes once the temporary file exists.
    // The others die at a random moment (start-up, training or a write).
    const midWriteRun = kills % 3 === 2;
    const env = { ...process.env, SPARSECTR_FAULTS: midWriteRun ? "write-pause=3000" : "write-pause=10" };
    const child = spawn(process.execPath, [CLI, "train", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d: Buffer) => { stdout += d; });
    child.stderr.on("data", (d: Buffer) => { stderr += d; });
    let exited = false;
    const done = new Promise<number | null>((res) => child.on("close", (code) => { exited = true; res(code); }));
    if (kills < 22) {
      // The first run lives until its first checkpoint, so that every kill has one to resume from.
      if (!resume) for (let i = 0; i < 1500 && !exited && !hasCheckpoint(out); i++) await new Promise((res) => setTimeout(res, 10));
      if (midWriteRun) {
        const tmp = (): boolean => existsSync(out) && readdirSync(out).some((f) => f.endsWith(".tmp"));
        for (let i = 0; i < 1500 && !exited && !tmp(); i++) await new Promise((res) => setTimeout(res, 10));
        assert.ok(tmp(), `no checkpoint write began: ${stderr}`);
        child.kill("SIGKILL");
      } else {
        const timer = setTimeout(() => child.kill("SIGKILL"), 100 + Math.floor(r() * 400));
        await done;
        clearTimeout(timer);
      }
      const code = await done;
      if (code === null) {
        kills++;
        if (existsSync(out) && readdirSync(out).some((f) => f.endsWith(".tmp"))) midWrite++;
        continue;
      }
      assert.fail(`the run finished after only ${kills} kills (code ${code}): ${stderr}`);
    }
    const code = await done;
    assert.equal(code, 0, stderr);
    const final = report(stdout);
    assert.equal(final.modelSha256, reference.modelSha256);
    assert.equal(final.trainLoss, reference.trainLoss);
    assert.equal(final.auc, reference.auc);
    assert.equal(final.rows, reference.rows);
    assert.equal(resumes, kills, "every run after the first resumed");
    console.log(`# ${kills} kills (${midWrite} in the middle of a checkpoint write), ${resumes} resumes`);
    break;
  }
  assert.ok(kills >= 20);
  assert.ok(midWrite >= 7, `only ${midWrite} kills landed in a checkpoint write`);
  // No temporary file survives a completed run, and its checkpoint says done.
  assert.deepEqual(readdirSync(out).filter((f) => f.endsWith(".tmp")), []);
  assert.equal(readCheckpoint(out).meta.position.done, true);
});

test("a full disk during a checkpoint: the run stops with the error, the previous checkpoint resumes to the same model", () => {
  const out = join(dir, "full");
  // The 3rd atomic write (the 3rd checkpoint) fails after 1000 bytes.
  const r = runSync([...ARGS, "--out", out], { SPARSECTR_FAULTS: "write-fail=3:1000" });
  assert.equal(r.code, 1);
  assert.match(r.err, /ENOSPC/);
  assert.deepEqual(readdirSync(out).filter((f) => f.endsWith(".tmp")), []);
  const ck = readCheckpoint(out);
  assert.equal(ck.meta.position.rows, 2 * 2048);
  const again = runSync(["--resume", out, "--json"]);
  assert.equal(again.code, 0, again.err);
  assert.equal(report(again.out).modelSha256, reference.modelSha256);
});

test("a full disk during the run's last checkpoint (written while the refit and the calibration go on): the command fails with the error and leaves no temporary file", () => {
  const out = join(dir, "full-last");
  // One pass and no checkpoint by rows: the 1st atomic write is the run's last checkpoint.
  const args = ARGS.map((a, i) => (ARGS[i - 1] === "--epochs" ? "1" : ARGS[i - 1] === "--checkpoint-every" ? "100000000" : a));
  const r = runSync([...args, "--out", out], { SPARSECTR_FAULTS: "write-fail=1:1000" });
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /ENOSPC: no space left on device, write '[^']*checkpoint\.sparsectr-state[^']*\.tmp'/);
  assert.deepEqual(readdirSync(out).filter((f) => f.endsWith(".tmp")), []);
  assert.equal(hasCheckpoint(out), false, "no checkpoint was written: the finished one waited for the last one and was not written");
});

test("a full disk during the finished checkpoint (written while the test rows are scored): the command fails with the error, writes no outputs, and --resume finishes it to the uninterrupted run's model", () => {
  const args = ARGS.map((a, i) => (ARGS[i - 1] === "--epochs" ? "1" : ARGS[i - 1] === "--checkpoint-every" ? "100000000" : a));
  const whole = runSync([...args, "--out", join(dir, "whole-1")]);
  assert.equal(whole.code, 0, whole.err);
  const out = join(dir, "full-finished");
  // One pass and no checkpoint by rows: the 1st atomic write is the run's last checkpoint, the 2nd the finished one.
  const r = runSync([...args, "--out", out], { SPARSECTR_FAULTS: "write-fail=2:1000" });
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /ENOSPC: no space left on device, write '[^']*checkpoint\.sparsectr-state[^']*\.tmp'/);
  assert.deepEqual(readdirSync(out).filter((f) => f.endsWith(".tmp")), []);
  assert.equal(existsSync(join(out, "model.sparsectr")), false, "the outputs wait for the finished checkpoint");
  const ck = readCheckpoint(out);
  assert.equal(ck.meta.finished, undefined, "the run's last checkpoint stays");
  assert.equal(ck.meta.position.done, true);
  const again = runSync(["--resume", out, "--json"]);
  assert.equal(again.code, 0, again.err);
  assert.equal(report(again.out).modelSha256, report(whole.out).modelSha256);
  assert.equal(report(again.out).auc, report(whole.out).auc);
  assert.ok(readCheckpoint(out).meta.finished, "the resumed run finished");
  assert.ok(existsSync(join(out, "model.sparsectr")));
});

test("a checkpoint records the run's resolved options once (no command line): --resume reads the plan, schedule and settings from it", () => {
  const { header } = decodeEnvelope(readFileSync(join(dir, "ref", CHECKPOINT_FILE)), "ref");
  assert.equal(header.args, undefined, "no raw options");
  const text = JSON.stringify(header);
  assert.equal(text.match(/"l21"/g)?.length, 1, "l21 is stored once (the model's settings)");
  const { meta } = readCheckpoint(join(dir, "ref"));
  assert.deepEqual(meta.run.plan, { train: { start: 0, end: 49_500 }, val: { start: 49_500, end: 55_000 }, test: { start: 55_000, end: 60_000 }, rows: 49_500 });
  assert.deepEqual(meta.run.files, { train: [data], test: [], validation: [] });
  assert.equal(meta.run.checkpoint.everyRows, 2048);
  assert.equal(meta.settings.batch, 128);
  assert.equal(meta.settings.epochs, 4);
  assert.equal(meta.settings.hyper?.l21, 1e-3);
});

test("a corrupt or truncated checkpoint is refused, never loaded", () => {
  const out = join(dir, "ref");
  const bytes = readFileSync(join(out, CHECKPOINT_FILE));
  assert.equal(readCheckpoint(out).meta.position.done, true, "the intact checkpoint loads");
  const bad = join(dir, "bad");
  rmSync(bad, { recursive: true, force: true });
  mkdirSync(bad);
  for (const [name, b] of [["flipped", Buffer.from(bytes).fill(7, 5000, 5001)], ["truncated", bytes.subarray(0, bytes.length - 100)]] as const) {
    writeFileSync(join(bad, CHECKPOINT_FILE), b);
    const r = runSync(["--resume", bad]);
    assert.equal(r.code, 1, name);
    assert.match(r.err, /checksum mismatch|truncated|too short/, name);
  }
});

test("the output folder is locked while a run uses it; a stale lock (dead process) is taken over", async () => {
  const out = join(dir, "locked");
  const child = spawn(process.execPath, [CLI, "train", ...ARGS, "--out", out], { env: { ...process.env, SPARSECTR_FAULTS: "write-pause=200" }, stdio: "ignore" });
  for (let i = 0; i < 200 && !existsSync(join(out, "lock")); i++) await new Promise((res) => setTimeout(res, 20));
  const second = runSync([...ARGS, "--out", out]);
  assert.equal(second.code, 1);
  assert.match(second.err, /in use by process \d+/);
  child.kill("SIGKILL");
  await new Promise((res) => child.on("close", res));
  assert.ok(existsSync(join(out, "lock")), "a killed run leaves its lock");
  const resumed = runSync(hasCheckpoint(out) ? ["--resume", out, "--json"] : [...ARGS, "--out", out]);
  assert.equal(resumed.code, 0, resumed.err);
  assert.equal(existsSync(join(out, "lock")), false, "the lock is released at the end");
});

test("a diverging run stops naming the step and rows; --skip-nonfinite skips and counts", () => {
  const args = ["--train", data, "--model", "mlp", "--optimizer", "sgd", "--lr", "1e30", "--batch", "512", "--json", "--threads", "1"];
  // In file order the batch's lines are a range; shuffled (the default on a
  // file this size), the first few are listed.
  const r = runSync([...args, "--shuffle", "off"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /training diverged at step \d+ \(rows on lines \d+\.\.\d+ of .*train\.txt\)/);
  const shuffled = runSync(args);
  assert.equal(shuffled.code, 1);
  assert.match(shuffled.err, /training diverged at step \d+ \(rows on lines \d+, \d+, \d+, \d+, \d+ and \d+ more of .*train\.txt\)/);
  const s = runSync([...args, "--skip-nonfinite"]);
  assert.equal(s.code, 0, s.err);
  assert.ok((report(s.out).skippedBatches as number) > 0);
});
