// Checkpoints written in the background (TrainControl.checkpoint returning
// the write in progress; train/background-writes.ts, io/atomic.ts
// writeFileAtomicAsync): the run trains on while a write is in progress,
// never starts a second one before the first is done, returns only once
// the last is on disk, and a failed write fails the run; the asynchronous
// atomic write leaves the whole new file or the old one, never a temporary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openData } from "../../src/data/index.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { configureLayers } from "../../src/kernels/layers/index.js";
import { writeFileAtomicAsync } from "../../src/io/atomic.js";
import { BackgroundWrites } from "../../src/train/background-writes.js";
import { buildModel, type TrainSettings } from "../../src/train/model.js";
import { trainModel, type TrainPosition } from "../../src/train/trainer.js";
import { trainParallel } from "../../src/train/parallel.js";

const dir = mkdtempSync(join(tmpdir(), "sparsectr-background-writes-"));
const train = join(dir, "train.txt");
await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 2, scale: 0.02 })), { format: "criteo", start: 0, rows: 24_000, out: train, truth: null });
test.after(() => rmSync(dir, { recursive: true, force: true }));
configureLayers({ threads: 1 });

const SETTINGS: TrainSettings = { model: "dcn", optimizer: "group-adam", hyper: { lr: 0.002 }, batch: 256, epochs: 1, seed: 3, minCount: 2 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("BackgroundWrites: one write at a time, and a failed write is thrown at the next checkpoint or the end", async () => {
  const w = new BackgroundWrites(), log: string[] = [];
  const slow = (name: string, ms: number, fail = false) => async (): Promise<void> => {
    log.push(`start ${name}`);
    await sleep(ms);
    log.push(`end ${name}`);
    if (fail) throw new Error(`${name} failed`);
  };
  await w.take(slow("a", 30));
  log.push("took a");
  await w.take(slow("b", 10));
  await w.settle();
  assert.deepEqual(log, ["start a", "took a", "end a", "start b", "end b"]);
  await w.take(() => undefined);
  await w.take(slow("c", 10, true));
  await assert.rejects(w.take(slow("d", 1)), /c failed/);
  await assert.rejects(w.settle(), /c failed/, "the failure stays the run's");
  assert.ok(!log.includes("start d"), "no write after a failed one");
});

for (const [name, run] of [
  ["the deterministic trainer", (m: ReturnType<typeof buildModel>, f: Awaited<ReturnType<typeof openData>>, c: Parameters<typeof trainModel>[4]) => trainModel(m, f, { start: 0, end: 24_000 }, undefined, c)],
  ["two data-parallel workers", (m: ReturnType<typeof buildModel>, f: Awaited<ReturnType<typeof openData>>, c: Parameters<typeof trainModel>[4]) => trainParallel(m, f, { start: 0, end: 24_000 }, 2, undefined, c)],
] as const) {
  test(`${name}: trains on while a checkpoint is written, one write at a time, and returns once the last is done; a failed write fails the run`, async () => {
    const file = await openData(train, { batchSize: 256 });
    const m = buildModel(file.fields.length, SETTINGS);
    let inFlight = false, writes = 0, trainedDuring = 0;
    const checkpoint = (p: TrainPosition): Promise<void> => {
      assert.ok(!inFlight, "a checkpoint while the last one is written");
      inFlight = true;
      writes++;
      const steps = m.tables[0].stepCount;
      return (async () => {
        await sleep(p.done ? 5 : 150);
        if (!p.done) trainedDuring = Math.max(trainedDuring, m.tables[0].stepCount - steps);
        inFlight = false;
      })();
    };
    const r = await run(m, file, { checkpoint, checkpointEveryRows: 6_000 });
    assert.ok(!inFlight, "returned before the last write was done");
    assert.ok(writes >= 4, `${writes} checkpoints`);
    assert.equal(r.rows, 24_000);
    assert.ok(trainedDuring > 0, "no step while a checkpoint was written");
    // The second write fails: the run fails with its error.
    const m2 = buildModel(file.fields.length, SETTINGS);
    let k = 0;
    const failing = async (): Promise<void> => {
      await sleep(10);
      if (++k === 2) throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
    };
    await assert.rejects(run(m2, await openData(train, { batchSize: 256 }), { checkpoint: failing, checkpointEveryRows: 6_000 }), /ENOSPC/);
  });
}

test("writeFileAtomicAsync writes the chunks whole, replaces the old file, and leaves no temporary file; a failed write leaves the old file", async () => {
  const f = join(dir, "x.bin");
  writeFileSync(f, "old");
  const a = new Uint8Array(1 << 20).map((_, i) => i & 255), b = new Uint8Array([7, 8, 9]);
  await writeFileAtomicAsync(f, [a, b]);
  const got = readFileSync(f);
  assert.equal(got.length, a.length + 3);
  assert.deepEqual(got.subarray(a.length), Buffer.from(b));
  assert.equal(got[1000], 1000 & 255);
  await Promise.all([writeFileAtomicAsync(join(dir, "y.bin"), b), writeFileAtomicAsync(join(dir, "z.bin"), a)]);
  assert.deepEqual(readFileSync(join(dir, "y.bin")), Buffer.from(b));
  await assert.rejects(writeFileAtomicAsync(join(dir, "missing", "x.bin"), b), /ENOENT/);
  assert.ok(existsSync(f));
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith(".tmp")), []);
});
