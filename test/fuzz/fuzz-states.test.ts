// Fuzzing the loaders of saved bytes (issue 7, hostile inputs): exported model
// files (Predictor.decode), sparse and sharded table states and dense
// parameter states (loadTable, DenseParam.load) and checkpoints
// (decodeCheckpoint, whose body nests table and dense states). Every file is sealed by a CRC-32, so
// random damage mostly meets the checksum: besides raw byte damage, most cases
// are "valid checksum, hostile content": header fields (sizes, counts, shapes,
// names, settings) replaced by hostile values, wrong types or deleted, bodies
// edited (record headers, floats, duplicate keys, lengths), nested states
// altered, and the envelope (or the nested one) re-sealed with a correct CRC,
// so that the content checks are what is tested. A case ends in a loaded
// object that then works (scores a batch, takes a step), or in an Error naming
// the kind of state; never an internal error, a hang or a large allocation.
// Cases per target: 2000 by default, 1000 for checkpoints (SPARSECTR_FUZZ_CASES
// overrides every count).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOptimizer } from "../../src/optim/optimizer.js";
import { OPTIMIZER_NAMES, type OptimizerName } from "../../src/optim/hyper.js";
import { loadTable, ShardedTable, type EmbeddingTable } from "../../src/optim/sharded.js";
import { DenseParam } from "../../src/optim/dense.js";
import { openData } from "../../src/data/reader.js";
import type { Batch } from "../../src/data/batch.js";
import { createGenerator, generateFiles, synthConfig } from "../../src/data/synth/index.js";
import { buildModel, type TrainSettings } from "../../src/train/model.js";
import { trainModel } from "../../src/train/trainer.js";
import { encodeModel, Predictor } from "../../src/serve/model-file.js";
import { dataIdentity, decodeCheckpoint, writeCheckpoint, CHECKPOINT_FILE } from "../../src/train/checkpoint.js";
import {
  fuzzTargets, mutateBody, mutateJson, mutateManyBytes, openEnvelope, Rand, reseal, sealEnvelope, unclear,
  type FuzzReport, type FuzzTarget,
} from "../helpers/fuzz.js";
import { randomArray, rng } from "../helpers/rng.js";
import { testRun } from "../helpers/run.js";

const CASES = 2000;

/** Header keys to prefer when mutating: sizes, counts, shapes, names. */
const FOCUS = [
  "size", "zeroRows", "recordBytes", "rowLength", "rows", "step", "seed", "optimizer", "kind", "version", "hyper", "init",
  "tableBytes", "matmulBytes", "params", "tables", "config", "model", "fields", "embedding", "hidden", "crossLayers", "dropout",
  "input", "format", "settings", "position", "epoch", "seen", "steps", "batch", "epochs", "name", "modelConfig", "dense", "lr", "run", "files", "plan", "schedule", "data", "shards", "bytes",
];

/** One case's bytes: raw damage, a hostile header, or a hostile body, re-sealed. */
function mutateState(r: Rand, bytes: Uint8Array, pool: readonly Uint8Array[], recordAt?: (h: Record<string, unknown>) => [number, number]): Uint8Array {
  const { header, body } = openEnvelope(bytes);
  const x = r.float();
  if (x < 0.15) return mutateManyBytes(r, bytes, pool, 1); // the checksum should catch nearly all of these
  if (x < 0.2) { // raw damage, then a correct CRC: the envelope's own checks
    const d = mutateManyBytes(r, bytes, pool, 1);
    return r.chance(0.5) ? reseal(d) : d;
  }
  if (x < 0.25) { // header text that is not JSON, or a header length that lies
    const text = new TextEncoder().encode(JSON.stringify(header));
    return r.chance(0.5)
      ? sealEnvelope(mutateManyBytes(r, text, [], 1), body)
      : sealEnvelope(text, body, r.pick([0, 1, text.length - 1, text.length + 1, text.length + 8, 2 ** 20, 2 ** 32 - 1]));
  }
  if (x < 0.7) return sealEnvelope(JSON.stringify(mutateJson(r, header, FOCUS)) ?? "null", r.chance(0.2) ? mutateBody(r, body) : body);
  const [recBytes, recAt] = recordAt ? recordAt(header) : [0, 0];
  const h = r.chance(0.15) ? mutateJson(r, header, FOCUS) : header;
  return sealEnvelope(JSON.stringify(h), mutateBody(r, body, recBytes, recAt));
}

// ---------------------------------------------------------------- tables and dense states

interface StateCtx { seeds: { name: OptimizerName; bytes: Uint8Array }[]; pool: Uint8Array[] }

const HYPER = (name: OptimizerName) => (name.startsWith("group-") ? { lr: 0.05, l1: 1e-3, l21: 0.05 } : name === "ftrl" ? { l1: 0.5 } : {});

/** A state of every optimizer, and a few sharded ones (several table states in one envelope). */
function tableSeeds(): StateCtx {
  const names = [...OPTIMIZER_NAMES, "group-adam", "adagrad", "ftrl"] as OptimizerName[];
  const seeds = names.map((name, k) => {
    const r = rng(k + 1), d = 4, sharded = k >= OPTIMIZER_NAMES.length;
    const opt = createOptimizer(name, HYPER(name));
    const t: EmbeddingTable = sharded ? ShardedTable.create(name, opt.hyper, { rowLength: d, seed: k }, 2 + (k % 2)) : opt.table({ rowLength: d, seed: k });
    for (let s = 0; s < 6; s++) {
      const ids = BigUint64Array.from({ length: 8 }, () => BigInt(Math.floor(r() * 24)));
      t.gatherBatch(ids);
      t.stepBatch(randomArray(r, ids.length * d), name.endsWith("adahessian") ? { hessian: randomArray(r, ids.length * d) } : {});
    }
    return { name, bytes: t.save() };
  });
  return { seeds, pool: seeds.map((s) => s.bytes) };
}

function denseSeeds(): StateCtx {
  const seeds = OPTIMIZER_NAMES.map((name, k) => {
    const r = rng(k + 100), rows = 5, d = 3;
    const p = createOptimizer(name, HYPER(name)).dense(randomArray(r, rows * d), { rows, rowLength: d });
    for (let s = 0; s < 5; s++) p.step(randomArray(r, rows * d), name.endsWith("adahessian") ? { hessian: randomArray(r, rows * d) } : {});
    return { name, bytes: p.save() };
  });
  return { seeds, pool: seeds.map((s) => s.bytes) };
}

/**
 * Steps beyond which a loaded state is not stepped here: the optimizer's
 * bias-correction table takes 8 bytes per step up to the current one (a state
 * saved at step 2^26 needs 1 GB to take its next step, however it was made).
 */
const MAX_EXERCISED_STEP = 2 ** 22;

/** After a load: the object works (a gather and a step, a save that loads again). */
function exerciseTable(t: EmbeddingTable, r: Rand): string {
  const d = t.rowLength, ids = BigUint64Array.from([1n, 2n, 3n, BigInt(r.int(1000))]);
  t.gather(ids);
  if (t.stepCount > MAX_EXERCISED_STEP) { t.dispose(); return "loaded (late step)"; }
  t.gatherBatch(ids);
  t.stepBatch(new Float32Array(ids.length * d).fill(0.01), t.optimizer.endsWith("adahessian") ? { hessian: new Float32Array(ids.length * d).fill(0.1) } : {});
  loadTable(t.save()).dispose();
  t.dispose();
  return "loaded, stepped";
}

function exerciseDense(p: DenseParam): string {
  const n = p.rows * p.rowLength;
  if (p.stepCount > MAX_EXERCISED_STEP) { p.dispose(); return "loaded (late step)"; }
  if (n <= 1 << 20) {
    p.step(new Float32Array(n).fill(0.01), p.optimizer.endsWith("adahessian") ? { hessian: new Float32Array(n).fill(0.1) } : {});
    DenseParam.load(p.save()).dispose();
  }
  p.dispose();
  return "loaded, stepped";
}

const recordLayout = (keyBytes: number) => (h: Record<string, unknown>): [number, number] => {
  const rec = typeof h.recordBytes === "number" ? h.recordBytes : 0;
  const n = typeof h.size === "number" ? h.size : typeof h.rows === "number" ? h.rows * (typeof h.rowLength === "number" ? h.rowLength : 0) : 0;
  return [rec, n * keyBytes];
};

function pastChecksum(rep: FuzzReport): void {
  const crc = Object.entries(rep.kinds).filter(([k]) => /checksum mismatch/.test(k)).reduce((s, [, n]) => s + n, 0);
  assert.ok(rep.cases - crc >= rep.cases * 0.6, `only ${rep.cases - crc} of ${rep.cases} cases got past the checksum`);
  assert.ok(rep.ok >= 1, "no case loaded: the content mutations are too destructive to test the success path");
}

const tableTarget: FuzzTarget<StateCtx> = {
  name: "table-state",
  cases: CASES,
  setup: tableSeeds,
  make(ctx, r) {
    const seed = r.pick(ctx.seeds);
    const bytes = openEnvelope(seed.bytes).header.kind === "sharded-table" && r.chance(0.5) ? mutateNestedParts(r, seed.bytes, "bytes") : mutateState(r, seed.bytes, ctx.pool, recordLayout(8));
    return { files: { "case.state": bytes }, run: () => exerciseTable(loadTable(bytes, r.chance(0.2) ? "ts" : "wasm"), r) };
  },
  judge: (e) => unclear(e, ["table state"]),
  summary: pastChecksum,
};

const denseTarget: FuzzTarget<StateCtx> = {
  name: "dense-state",
  cases: CASES,
  setup: denseSeeds,
  make(ctx, r) {
    const seed = r.pick(ctx.seeds);
    const bytes = mutateState(r, seed.bytes, ctx.pool, (h) => {
      const [rec, xs] = recordLayout(4)(h);
      return [rec, xs];
    });
    return { files: { "case.state": bytes }, run: () => exerciseDense(DenseParam.load(bytes)) };
  },
  judge: (e) => unclear(e, ["dense parameter state"]),
  summary: pastChecksum,
};

// ---------------------------------------------------------------- models and checkpoints

interface ModelCtx {
  dir: string;
  seeds: { name: string; bytes: Uint8Array }[];
  pool: Uint8Array[];
  batch: Batch;
}

const SETTINGS: TrainSettings[] = [
  { model: "lr", optimizer: "ftrl", hyper: { lr: 0.05, l1: 0.5 }, seed: 1, batch: 128 },
  { model: "mlp", optimizer: "group-adam", hyper: { l21: 1e-3 }, modelConfig: { embedding: 4, hidden: [8, 4] }, seed: 2, batch: 128 },
  { model: "dcn", optimizer: "group-adagrad", hyper: { l21: 1e-3 }, modelConfig: { embedding: 4, hidden: [8], crossLayers: 2 }, seed: 3, batch: 128, dense: "group" },
  { model: "deepfm", optimizer: "adam", modelConfig: { embedding: 3, hidden: [6], dropout: 0.5 }, seed: 4, batch: 128 },
  { model: "opnn", optimizer: "group-momentum", hyper: { l21: 1e-3 }, modelConfig: { embedding: 3, hidden: [6, 4] }, seed: 5, batch: 128 },
  { model: "deepfm", optimizer: "group-adam", hyper: { l21: 1e-3 }, modelConfig: { embedding: 2, hidden: [4] }, seed: 6, batch: 128, shards: 3 },
];

async function trained(kind: "model" | "checkpoint"): Promise<ModelCtx> {
  const dir = mkdtempSync(join(tmpdir(), `sparsectr-fuzz-${kind}-`));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, "train.txt");
  await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 5, scale: 0.001 })), { format: "criteo", start: 0, rows: 400, out: data, truth: null });
  const file = await openData(data, { batchSize: 64 });
  let batch: Batch | undefined;
  for await (const b of file.batches({ end: 64 })) batch = b;
  const seeds: ModelCtx["seeds"] = [];
  for (const [k, s] of SETTINGS.entries()) {
    const m = buildModel(file.fields.length, s);
    const run = await trainModel(m, file, { end: 256 });
    if (kind === "model") {
      seeds.push({ name: s.model, bytes: encodeModel(m, { format: file.format, fields: file.fields }) });
    } else {
      const out = join(dir, `${k}-${s.model}`);
      mkdirSync(out);
      writeCheckpoint(out, m, {
        settings: m.settings, fields: [...file.fields], format: file.format, params: m.params.map((p) => p.name),
        position: run.position, run: testRun([data]), data: dataIdentity(data),
      });
      seeds.push({ name: s.model, bytes: new Uint8Array(readFileSync(join(out, CHECKPOINT_FILE))) });
    }
  }
  return { dir, seeds, pool: seeds.map((s) => s.bytes), batch: batch! };
}

const modelTarget: FuzzTarget<ModelCtx> = {
  name: "model-file",
  cases: CASES,
  setup: () => trained("model"),
  make(ctx, r) {
    const seed = r.pick(ctx.seeds);
    const bytes = mutateState(r, seed.bytes, ctx.pool);
    return {
      files: { "case.sparsectr": bytes },
      run: () => {
        const p = Predictor.decode(bytes, "model case.sparsectr");
        // A loaded model scores the readers' batches of its fields.
        if (p.input.fields.length === ctx.batch.keys.length / ctx.batch.rows) {
          const s = p.predict(ctx.batch);
          assert.equal(s.length, ctx.batch.rows);
          return "loaded, scored";
        }
        return "loaded, other fields";
      },
    };
  },
  judge: (e) => unclear(e, ["model case.sparsectr"]),
  summary: pastChecksum,
};

/** A sharded table state with one shard's state altered and re-sealed, the outer sizes kept right or not. */
function mutateNestedParts(r: Rand, bytes: Uint8Array, key: string): Uint8Array {
  const { header, body } = openEnvelope(bytes);
  const sizes = header[key] as number[];
  const parts: Uint8Array[] = [];
  let o = 0;
  for (const n of sizes) { parts.push(body.slice(o, o + n)); o += n; }
  const k = r.int(parts.length);
  parts[k] = mutateState(r, parts[k], [], recordLayout(8));
  if (r.chance(0.9)) header[key] = parts.map((p) => p.length);
  const nb = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  o = 0;
  for (const p of parts) { nb.set(p, o); o += p.length; }
  return sealEnvelope(JSON.stringify(header), nb);
}

/** A checkpoint with one nested state (table or dense) altered and re-sealed, the outer sizes kept right or not. */
function mutateNested(r: Rand, bytes: Uint8Array, pool: readonly Uint8Array[]): Uint8Array {
  const { header, body } = openEnvelope(bytes);
  const tb = header.tableBytes as number[], db = header.matmulBytes as number[];
  const sizes = [...tb, ...db];
  const k = r.int(sizes.length);
  const parts: Uint8Array[] = [];
  let o = 0;
  for (const n of sizes) { parts.push(body.slice(o, o + n)); o += n; }
  const inner = parts[k];
  const isTable = k < tb.length;
  parts[k] = r.chance(0.1) ? inner : mutateState(r, inner, pool, recordLayout(isTable ? 8 : 4));
  if (r.chance(0.05)) parts[k] = parts[(k + 1) % parts.length]; // a state of another part
  const newSizes = parts.map((p) => p.length);
  const h = { ...header };
  if (r.chance(0.9)) { h.tableBytes = newSizes.slice(0, tb.length); h.matmulBytes = newSizes.slice(tb.length); }
  const nb = new Uint8Array(newSizes.reduce((s, n) => s + n, 0));
  o = 0;
  for (const p of parts) { nb.set(p, o); o += p.length; }
  return sealEnvelope(JSON.stringify(h), nb);
}

const checkpointTarget: FuzzTarget<ModelCtx> = {
  name: "checkpoint",
  // A checkpoint case builds a whole model (about 7 ms): half the count keeps the file's run near 20 s.
  cases: CASES / 2,
  setup: () => trained("checkpoint"),
  make(ctx, r) {
    const seed = r.pick(ctx.seeds);
    const bytes = r.chance(0.35) ? mutateNested(r, seed.bytes, ctx.pool) : mutateState(r, seed.bytes, ctx.pool);
    return {
      files: { "case.sparsectr-state": bytes },
      run: () => {
        const { model, meta } = decodeCheckpoint(bytes, "checkpoint case.sparsectr-state");
        let label = "loaded";
        if (meta.fields.length === ctx.batch.keys.length / ctx.batch.rows) {
          assert.equal(model.predict(ctx.batch).length, ctx.batch.rows);
          label += ", scored";
        }
        for (const t of model.tables) exerciseTable(t, r);
        for (const d of model.dense) exerciseDense(d);
        return label;
      },
    };
  },
  judge: (e) => unclear(e, ["checkpoint case.sparsectr-state", "sparse table state", "dense parameter state"]),
  summary: pastChecksum,
};

fuzzTargets(import.meta.url, [tableTarget, denseTarget, modelTarget, checkpointTarget]);
