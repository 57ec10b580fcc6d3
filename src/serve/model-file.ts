import { readFileSync } from "node:fs";
import { decodeEnvelope, encodeEnvelope, intField } from "../io/envelope.js";
import { writeFileAtomic } from "../io/atomic.js";
import { createResolvedModel, isModelName, type Model, type ModelConfig, type ModelName } from "../models/index.js";
import { resolveConfig } from "../models/config.js";
import { minParamValues } from "../models/size.js";
import { namedErrors } from "../util/named-errors.js";
import { Vocabulary } from "../data/vocab.js";
import type { Batch } from "../data/batch.js";
import type { CtrModel } from "../train/model.js";
import { oovTable } from "../train/admission.js";
import { calibrated, NO_CALIBRATION, type Calibration } from "../train/calibration.js";
import { bagFields, isPooling, poolBags, type Pooling } from "../nn/bag.js";
import { readInputSpec, type InputSpec } from "../data/input-spec.js";

export type { InputSpec } from "../data/input-spec.js";

const KIND = "sparsectr-model";
/** Live rows whose weights encodeModel looks up at a time. */
const EXPORT_PIECE = 65_536;

/**
 * Writes a trained model for serving: a JSON header (model, config, input
 * fields, parameter shapes, each table's live-row count) and a binary body with
 * the dense weights, then per table the live rows only (keys ascending, then
 * their weights), sealed by a CRC-32 (see io/envelope.ts). Zero rows are not
 * written: a feature absent from the file reads as zeros, or, when the model
 * was trained with feature admission (`inputs.oov`), as its field's OOV row,
 * exactly as the trained model evaluates (train/inputs.ts). `inputs.pooling`
 * says how several features of one field combine.
 */
export function encodeModel(m: CtrModel, input: InputSpec): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const p of m.params) parts.push(bytes(p.value));
  const tables = m.tables.map((t) => {
    // Ascending (a typed array's own sort is numeric); the weights looked up a piece at a time (the lookup's scratch stays small).
    const keys = t.liveIds().sort(), d = t.rowLength, w = new Float32Array(keys.length * d);
    for (let i = 0; i < keys.length; i += EXPORT_PIECE) {
      const piece = keys.subarray(i, Math.min(keys.length, i + EXPORT_PIECE));
      t.gather(piece, w.subarray(i * d, (i + piece.length) * d), { create: false });
    }
    parts.push(new Uint8Array(keys.buffer), bytes(w));
    return { rowLength: d, rows: keys.length };
  });
  const config: ModelConfig = { fields: input.fields.length, ...(m.settings.modelConfig ?? {}), seed: m.settings.seed };
  return encodeEnvelope({
    kind: KIND, version: 1, model: m.model.name, config, input,
    params: m.params.map((p) => ({ name: p.name, rows: p.rows, rowLength: p.rowLength })),
    tables, trainedWith: { optimizer: m.settings.optimizer, hyper: m.settings.hyper ?? {} },
    inputs: { pooling: m.settings.pooling, oov: m.admission !== undefined },
    calibration: m.calibration,
  }, parts);
}

/** encodeModel, written atomically to a file. */
export function exportModel(m: CtrModel, input: InputSpec, path: string): number {
  const b = encodeModel(m, input);
  writeFileAtomic(path, b);
  return b.length;
}

/** A loaded model for scoring: click probabilities from batches of feature keys. */
export class Predictor {
  private constructor(
    readonly modelName: ModelName,
    readonly input: InputSpec,
    private readonly model: Model,
    private readonly tables: { rowLength: number; index: Vocabulary; weights: Float32Array; keys: Uint32Array }[],
    /** Bytes of the model file. */
    readonly bytes: number,
    private readonly pooling: Pooling,
    /** Per table, the row of each field's OOV key (-1: none), when the model routes unseen features there. */
    private readonly oovRows: Int32Array[] | undefined,
    /** The affine map of the logits the trained model applies (train/calibration.ts). */
    readonly calibration: Calibration,
  ) {}

  /** Reads a model file written by exportModel; refuses damaged or inconsistent files. */
  static load(path: string): Predictor {
    let raw: Uint8Array;
    try {
      raw = readFileSync(path);
    } catch (e) {
      throw new Error(`model ${path}: ${(e as Error).message}`);
    }
    return Predictor.decode(raw, `model ${path}`);
  }

  static decode(raw: Uint8Array, what = "model"): Predictor {
    const { header: h, body } = decodeEnvelope(raw, what);
    if (h.kind !== KIND || h.version !== 1) throw new RangeError(`${what}: not a sparsectr model file (kind ${shown(h.kind)}, version ${shown(h.version)})`);
    if (typeof h.model !== "string" || !isModelName(h.model)) throw new RangeError(`${what}: unknown model ${JSON.stringify(h.model)}`);
    const modelName = h.model;
    const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
    if (!Array.isArray(h.params) || !Array.isArray(h.tables)) throw new RangeError(`${what}: header lacks params or tables`);
    const names = new Set<string>();
    const params = h.params.map((p: unknown) => {
      if (!isObject(p) || typeof p.name !== "string" || names.has(p.name)) throw new RangeError(`${what}: parameter entry ${shown(p)} is not { name, rows, rowLength } with a name of its own`);
      names.add(p.name);
      return { name: p.name, rows: intField(p, "rows", what, 1 << 26), rowLength: intField(p, "rowLength", what, 1 << 20) };
    });
    const tables = h.tables.map((t: unknown) => {
      if (!isObject(t)) throw new RangeError(`${what}: a table entry is not { rows, rowLength }`);
      return { rows: intField(t, "rows", what, 1 << 30), rowLength: intField(t, "rowLength", what, 1024) };
    });
    const input = readInputSpec(h.input, what);
    const rawConfig = h.config;
    if (!isObject(rawConfig)) throw new RangeError(`${what}: header field "config" is not an object`);
    if (rawConfig.fields !== input.fields.length) throw new RangeError(`${what}: config.fields = ${JSON.stringify(rawConfig.fields)}, the input has ${input.fields.length} fields`);
    const config = namedErrors(what, () => resolveConfig(modelName, rawConfig));
    let off = 0;
    const take = (n: number, label: string): Uint8Array => {
      if (!Number.isSafeInteger(n) || n < 0 || off + n > body.length) throw new RangeError(`${what}: ${label} needs ${n} bytes at ${off}, the body has ${body.length}`);
      const s = body.slice(off, off + n);
      off += n;
      return s;
    };
    const values = new Map<string, Float32Array>();
    let stored = 0;
    for (const p of params) {
      const { rows, rowLength: len } = p;
      const v = new Float32Array(take(rows * len * 4, `parameter ${p.name}`).buffer);
      const bad = v.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new RangeError(`${what}: parameter ${p.name} holds ${v[bad]} at ${bad}: a trained model's weights are finite`);
      values.set(p.name, v);
      stored += rows * len;
    }
    // The model allocates its parameters from the config before they are
    // compared with the file's: bound the config by the values the file holds.
    const needed = minParamValues(modelName, config);
    if (!(needed <= stored)) throw new RangeError(`${what}: the ${modelName} config ${JSON.stringify(h.config).slice(0, 200)} needs ${needed} parameter values, the file holds ${stored}`);
    const model = namedErrors(what, () => createResolvedModel(modelName, config, {
      params: (name, rows, rowLength, init) => {
        const v = values.get(name);
        if (!v || v.length !== rows * rowLength) throw new RangeError(`${what}: parameter ${name} (${rows} x ${rowLength}) is missing or has another shape`);
        init.set(v);
        return init;
      },
    }));
    if (model.params().length !== params.length) throw new RangeError(`${what}: ${params.length} parameters in the file, the model has ${model.params().length}`);
    if (model.inputs.length !== tables.length) throw new RangeError(`${what}: ${tables.length} tables in the file, the model reads ${model.inputs.length}`);
    const loaded = tables.map((t, k) => {
      const { rows, rowLength: d } = t;
      if (d !== model.inputs[k].rowLength) throw new RangeError(`${what}: table ${k} has rows of ${d}, the model reads ${model.inputs[k].rowLength}`);
      const keys = new Uint32Array(take(rows * 8, `table ${k} keys`).buffer);
      const weights = new Float32Array(take(rows * d * 4, `table ${k} weights`).buffer);
      const bad = weights.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new RangeError(`${what}: table ${k} holds ${weights[bad]} in row ${Math.floor(bad / d)}: a trained model's weights are finite`);
      const index = new Vocabulary({ fields: 1, capacity: Math.max(16, 2 ** Math.ceil(Math.log2(rows / 0.75 + 1))) });
      const ids = new Uint32Array(rows);
      index.encode(keys, rows, ids);
      if (index.keys !== rows) throw new RangeError(`${what}: table ${k} lists a key twice`);
      return { rowLength: d, index, weights, keys };
    });
    if (off !== body.length) throw new RangeError(`${what}: ${body.length - off} bytes left after the last table`);
    const inputs: unknown = h.inputs ?? { pooling: "mean", oov: false };
    if (!isObject(inputs) || !isPooling(inputs.pooling) || typeof inputs.oov !== "boolean") throw new RangeError(`${what}: header field "inputs" is not { pooling, oov }`);
    const pooling = inputs.pooling;
    const oov = inputs.oov ? loaded.map((t) => {
      const w = oovTable(input.fields.length), rows = new Int32Array(input.fields.length);
      for (let f = 0; f < rows.length; f++) rows[f] = t.index.lookup(w[2 * f], w[2 * f + 1]);
      return rows;
    }) : undefined;
    const cal: unknown = h.calibration ?? NO_CALIBRATION;
    if (!isObject(cal) || !(typeof cal.scale === "number" && cal.scale > 0 && Number.isFinite(cal.scale)) || !(typeof cal.bias === "number" && Number.isFinite(cal.bias))) {
      throw new RangeError(`${what}: header field "calibration" is not { scale > 0, bias }`);
    }
    return new Predictor(modelName, input, model, loaded, raw.length, pooling, oov, { scale: cal.scale, bias: cal.bias });
  }

  /** Features with at least one live row in some table (the model's features; OOV rows are not counted). */
  get features(): number {
    const union = new Vocabulary({ fields: 1 });
    for (const t of this.tables) {
      const n = t.index.keys, words = t.keys;
      union.encode(words, n, new Uint32Array(n));
    }
    // The OOV rows are no features.
    let oov = 0;
    if (this.oovRows) {
      const w = oovTable(this.input.fields.length);
      for (let f = 0; f < this.input.fields.length; f++) if (union.lookup(w[2 * f], w[2 * f + 1]) >= 0) oov++;
    }
    return union.keys - oov;
  }

  /**
   * Click probabilities of a batch (keys as the readers give them): a
   * feature reads its row; one the model has no row for reads its field's
   * OOV row (models trained with feature admission) or zeros; several
   * features of one field are pooled.
   */
  predict(batch: Batch, out: Float64Array = new Float64Array(batch.rows)): Float64Array {
    const F = this.input.fields.length, n = batch.rows, bags = batch.bags;
    const keys = bags ? bags.offsets[n * F] : n * F;
    if (bags ? bags.offsets.length !== n * F + 1 : batch.keys.length !== n * F) throw new RangeError(`predict: the batch has ${(bags ? bags.offsets.length - 1 : batch.keys.length) / Math.max(n, 1)} fields, the model ${F}`);
    const field = bags ? bagFields(bags.offsets, F) : undefined;
    const inputs = this.tables.map((t, k) => {
      const d = t.rowLength, x = new Float32Array(keys * d), w = batch.keyWords, oov = this.oovRows?.[k], weights = t.weights;
      for (let j = 0; j < keys; j++) {
        let r = t.index.lookup(w[2 * j], w[2 * j + 1]);
        if (r < 0 && oov) r = oov[field ? field[j] : j % F];
        // A plain loop: a subarray view per row cost more than the copy of its few floats.
        if (r >= 0) for (let c = 0, src = r * d, dst = j * d; c < d; c++) x[dst + c] = weights[src + c];
      }
      return bags ? poolBags(x, d, bags.offsets, bags.values, this.pooling, new Float32Array(n * F * d)) : x;
    });
    return calibrated(this.calibration, this.model.forward(inputs, n, false), n, out);
  }
}

/** A header value for a message: its JSON, or "missing". */
function shown(v: unknown): string {
  return v === undefined ? "missing" : (JSON.stringify(v) ?? String(v)).slice(0, 80);
}



function bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}
