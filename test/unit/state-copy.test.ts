// State copies over the memory of earlier ones: the same bytes as fresh copies, never over bytes still in use.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeEnvelope, encodeEnvelope, encodeEnvelopeInto } from "../../src/io/envelope.js";
import { buildModel, type CtrModel } from "../../src/train/model.js";
import { copyState, EarlyStopping, restoreState, sealState, type StateCopy } from "../../src/train/validation.js";
import type { DataFile } from "../../src/data/types.js";
import { startPosition } from "../../src/train/trainer.js";
import type { SparseTable } from "../../src/optim/table.js";
import { rng } from "../helpers/rng.js";
import { testRun } from "../helpers/run.js";
import { CHECKPOINT_FILE, readCheckpoint, writeCheckpoint, writeCheckpointAsync, type CheckpointMeta } from "../../src/train/checkpoint.js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const FIELDS = 6;

/** Rows for `n` new ids of the model's table and their counts (some keys twice, so that some are admitted). */
function grow(m: CtrModel, n: number, seed: number): void {
  const r = rng(seed), t = m.tables[0] as SparseTable;
  const ids = BigUint64Array.from({ length: n }, () => BigInt(Math.floor(r() * 2 ** 40)));
  t.gather(ids);
  const words = new Uint32Array(2 * n);
  ids.forEach((id, j) => { words[2 * j] = Number(id & 0xffffffffn); words[2 * j + 1] = Number(id >> 32n); });
  for (let k = 0; k < 2; k++) m.admission!.route(words, k === 0 ? n : n >> 1, new Uint32Array(2 * n), undefined, true);
}

function model(): CtrModel {
  return buildModel(FIELDS, { model: "dcn", optimizer: "group-adam", hyper: { l21: 1e-3 }, minCount: 2, seed: 3, modelConfig: { hidden: [8], crossLayers: 1, embedding: 4 } });
}

const bytesOf = (s: StateCopy): Uint8Array[] => [...s.tables, ...s.dense, ...(s.admission ? [s.admission] : [])];

test("encodeEnvelopeInto: the bytes of encodeEnvelope, over a buffer that starts with `into` and holds them, else in a new one with room to spare", () => {
  const parts = [Uint8Array.from([1, 2, 3]), new Uint8Array(0), Uint8Array.from({ length: 21 }, (_, i) => i * 7)];
  const header = { kind: "test", version: 1, n: 3 };
  const plain = encodeEnvelope(header, parts);
  const fill = (k: number, dest: Uint8Array): void => dest.set(parts[k]);
  const sizes = parts.map((p) => p.length);
  // Fits: written over it (its stale tail beyond the state left as it was).
  const big = new Uint8Array(plain.length + 40).fill(0xee);
  const over = encodeEnvelopeInto(header, sizes, fill, big);
  assert.equal(over.buffer, big.buffer);
  assert.deepEqual(over, plain);
  assert.equal(big[plain.length + 1], 0xee);
  assert.deepEqual(decodeEnvelope(over, "test").header, header);
  // Too small: a new buffer, a quarter larger than the state.
  const small = new Uint8Array(plain.length - 1);
  const grown = encodeEnvelopeInto(header, sizes, fill, small);
  assert.notEqual(grown.buffer, small.buffer);
  assert.deepEqual(grown, plain);
  assert.equal(grown.buffer.byteLength, Math.ceil(plain.length * 1.25));
  // A view inside a buffer (other bytes before it) is never written over.
  const shared = new Uint8Array(plain.length * 3).fill(9);
  const inner = encodeEnvelopeInto(header, sizes, fill, shared.subarray(8));
  assert.notEqual(inner.buffer, shared.buffer);
  assert.ok(shared.every((b) => b === 9));
  // Without `into`: exactly the state's bytes.
  assert.equal(encodeEnvelopeInto(header, sizes, fill).buffer.byteLength, plain.length);
});

test("copyState over an earlier copy gives a fresh copy's bytes (tables, dense layers, admission counts), in the earlier copy's memory when it fits", () => {
  const m = model();
  grow(m, 500, 1);
  const first = copyState(m);
  grow(m, 300, 2);
  const fresh = copyState(m), second = copyState(m, first);
  assert.deepEqual(bytesOf(second), bytesOf(fresh));
  // The first copy was smaller: new buffers with room, which a copy a little larger reuses.
  assert.notEqual(second.tables[0].buffer, first.tables[0].buffer);
  grow(m, 20, 3);
  const third = copyState(m, second);
  assert.deepEqual(bytesOf(third), bytesOf(copyState(m)));
  assert.equal(third.tables[0].buffer, second.tables[0].buffer);
  assert.equal(third.admission!.buffer, second.admission!.buffer);
  third.dense.forEach((d, i) => assert.equal(d.buffer, second.dense[i].buffer));
});

test("EarlyStopping reuses the memory of a best copy it no longer needs, never of one a checkpoint took, and restores the best state", async () => {
  const m = model();
  const aucs = [0.6, 0.7, 0.8, 0.9, 0.5];
  let k = 0;
  const es = new EarlyStopping(m, { file: {} as DataFile }, { monitor: "auc", patience: 5, score: () => Promise.resolve({ auc: aucs[k++], logloss: 0.5, rows: 1 }) });
  const pos = startPosition();
  const held = (): StateCopy => (es as unknown as { copy: StateCopy }).copy;
  const best = async (n: number, seed: number): Promise<StateCopy> => {
    grow(m, n, seed);
    assert.equal(await es.evaluate(pos), false);
    es.beforeStep();
    return held();
  };
  await best(400, 1);
  const b = await best(200, 2);
  const c = await best(10, 3);
  assert.equal(c.tables[0].buffer, b.tables[0].buffer, "the copy no longer needed is written over");
  // A checkpoint takes the best copy: its bytes stay as they are while the run goes on.
  const lent = es.record().copy!;
  const kept = bytesOf(lent).map((x) => x.slice());
  const d = await best(10, 4);
  assert.notEqual(d.tables[0].buffer, lent.tables[0].buffer);
  assert.deepEqual(bytesOf(lent), kept);
  const at = bytesOf(copyState(m));
  // Worse: the run goes on from it, then the best state comes back.
  grow(m, 50, 5);
  assert.equal(await es.evaluate(pos), false);
  es.beforeStep();
  assert.equal(es.restoreBest(), true);
  assert.deepEqual(bytesOf(copyState(m)), at);
});

test("EarlyStopping with a trainer's scorer copies the state while it scores: the best state kept is the one at its evaluation, a copy at a worse one only lends its memory to the next (never kept as best, with or without the trainer's scorer); the run's last evaluation copies nothing", async () => {
  const m = model();
  // Best at 1, 3 (an evaluation without the trainer's scorer), 5 and 7 (the last); worse at 2, 4 and 6.
  const aucs = [0.6, 0.5, 0.7, 0.4, 0.8, 0.3];
  let k = 0;
  const scores = (): Promise<{ auc: number; logloss: number; rows: number }> => Promise.resolve({ auc: aucs[k++], logloss: 0.5, rows: 1 });
  const es = new EarlyStopping(m, { file: {} as DataFile }, { monitor: "auc", patience: 9, score: scores });
  const pos = startPosition();
  const held = (): StateCopy => (es as unknown as { copy: StateCopy }).copy;
  const step = async (n: number, seed: number, trainerScorer: boolean): Promise<Uint8Array[]> => {
    grow(m, n, seed);
    const at = bytesOf(copyState(m, undefined, false));
    assert.equal(await es.evaluate(pos, trainerScorer ? scores : undefined), false);
    es.beforeStep();
    return at;
  };
  const at1 = await step(300, 1, true);
  assert.deepEqual(bytesOf(held()), at1, "the best copy, taken while scoring, is the state at the evaluation");
  await step(100, 2, true);
  assert.deepEqual(bytesOf(held()), at1, "a worse evaluation leaves the best copy as it was");
  const at3 = await step(50, 3, false);
  assert.deepEqual(bytesOf(held()), at3, "without the trainer's scorer the copy is taken then, not the worse evaluation's");
  await step(40, 4, true);
  const at5 = await step(30, 5, true);
  assert.deepEqual(bytesOf(held()), at5);
  await step(20, 6, true);
  assert.equal(es.restoreBest(), true);
  assert.deepEqual(bytesOf(copyState(m, undefined, false)), at5, "the best state comes back");
  // The run's last evaluation (no step follows): nothing is copied, the best state is the model's.
  grow(m, 10, 7);
  aucs.push(0.95);
  assert.equal(await es.evaluate(pos, scores, true), false);
  assert.equal((es as unknown as { ahead?: StateCopy }).ahead, undefined, "no copy for the last evaluation");
  assert.equal(es.restoreBest(), false);
});

test("background checkpoints with a spare: each file as the synchronous write gives it, the next copy over the last written one's memory", async () => {
  const m = model(), dir = mkdtempSync(join(tmpdir(), "sparsectr-spare-")), ref = mkdtempSync(join(tmpdir(), "sparsectr-spare-ref-"));
  try {
    const meta = (): CheckpointMeta => ({ settings: m.settings, fields: Array.from({ length: FIELDS }, (_, i) => `f${i}`), format: "csv", params: m.params.map((p) => p.name), position: startPosition(), run: testRun(), data: { path: "x", size: 0, mtimeMs: 0 } });
    const spare: { state?: StateCopy } = {};
    const buffers: ArrayBufferLike[] = [];
    for (const [n, seed] of [[300, 1], [100, 2], [5, 3], [5, 4]]) {
      grow(m, n, seed);
      const pending = writeCheckpointAsync(dir, m, meta(), undefined, spare);
      assert.equal(spare.state, undefined, "a copy being written is nobody's spare");
      await pending;
      buffers.push(spare.state!.tables[0].buffer);
      writeCheckpoint(ref, m, meta());
      assert.deepEqual(readFileSync(join(dir, CHECKPOINT_FILE)), readFileSync(join(ref, CHECKPOINT_FILE)));
    }
    assert.equal(buffers[2], buffers[1]);
    assert.equal(buffers[3], buffers[2]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(ref, { recursive: true, force: true });
  }
});

test("unsealed copies: no CRC until sealState (a load refuses them), then the sealed copy's bytes; restoring and checkpointing seal them", async () => {
  const m = model();
  grow(m, 300, 1);
  const sealed = copyState(m), raw = copyState(m, undefined, false);
  assert.equal(raw.unsealed, true);
  assert.throws(() => decodeEnvelope(raw.tables[0], "table"), /checksum mismatch/);
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-unsealed-"));
  try {
    // A checkpoint with an unsealed best copy: written sealed, read back equal.
    const meta: CheckpointMeta = { settings: m.settings, fields: Array.from({ length: FIELDS }, (_, i) => `f${i}`), format: "csv", params: m.params.map((p) => p.name), position: startPosition(), run: testRun(), data: { path: "x", size: 0, mtimeMs: 0 } };
    const best = copyState(m, undefined, false);
    grow(m, 50, 2);
    await writeCheckpointAsync(dir, m, meta, best);
    assert.equal(best.unsealed, undefined);
    assert.deepEqual(bytesOf(readCheckpoint(dir).best!), bytesOf(sealed));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Restoring seals first.
  restoreState(m, raw);
  assert.equal(raw.unsealed, undefined);
  assert.deepEqual(bytesOf(raw), bytesOf(sealed));
  assert.deepEqual(bytesOf(copyState(m)), bytesOf(sealed));
  sealState(raw);
  assert.deepEqual(bytesOf(raw), bytesOf(sealed), "sealing twice changes nothing");
});
