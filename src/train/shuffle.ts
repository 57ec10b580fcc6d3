/**
 * Training rows held in memory and shuffled per pass: a file's rows (of a
 * range) are read and parsed once, then every pass visits them in a seeded
 * permutation of its own, in batches (the practice of mini-batch SGD on a
 * data set that fits in memory, e.g. PyTorch's DataLoader(shuffle=True)).
 * Later passes cost no reading or parsing. A row keeps its keys, label,
 * file and line, so errors still name where it came from.
 */
import type { Batch } from "../data/batch.js";
import type { DataFile } from "../data/types.js";
import { deriveSeed, Random } from "../nn/random.js";
import type { RowSource } from "./trainer.js";

/** Bytes a row of `fields` one-key slots takes in memory (keys, label, line, file). */
export function rowBytes(fields: number): number {
  return 8 * fields + 4 + 8 + 2;
}

/** Growable typed array. */
class Grow<T extends Uint32Array | Float32Array | Float64Array | Uint16Array> {
  n = 0;
  constructor(public a: T, private readonly make: (n: number) => T) {}
  push(src: ArrayLike<number>, from = 0, to = src.length): void {
    const k = to - from;
    if (this.n + k > this.a.length) {
      const b = this.make(Math.max(this.n + k, 2 * this.a.length));
      b.set(this.a.subarray(0, this.n));
      this.a = b;
    }
    for (let i = 0; i < k; i++) this.a[this.n + i] = src[from + i];
    this.n += k;
  }
  done(): T { return this.a.subarray(0, this.n) as T; }
}

/** A file's rows in memory, visited in a new seeded order every pass. */
export class ShuffledRows implements RowSource {
  private constructor(
    readonly path: string,
    readonly paths: readonly string[] | undefined,
    readonly numeric: readonly string[],
    private readonly fields: number,
    private readonly batchSize: number,
    private readonly seed: number,
    readonly rows: number,
    private readonly labels: Float32Array,
    private readonly lines: Float64Array,
    private readonly parts: Uint16Array,
    /** Keys as (lo, hi) words: rows x fields of them, or per bag entry. */
    private readonly words: Uint32Array,
    /** With bags: slot offsets (rows x fields + 1) into the entries, and the entries' values. */
    private readonly bags: { offsets: Uint32Array; values: Float32Array } | undefined,
  ) {}

  /** Reads the rows of `range` of a file (in its batches) into memory. */
  static async load(file: DataFile, range: { start?: number; end?: number }, batchSize: number, seed: number): Promise<ShuffledRows> {
    const F = file.fields.length;
    const labels = new Grow(new Float32Array(4096), (n) => new Float32Array(n));
    const lines = new Grow(new Float64Array(4096), (n) => new Float64Array(n));
    const parts = new Grow(new Uint16Array(4096), (n) => new Uint16Array(n));
    const words = new Grow(new Uint32Array(4096 * F * 2), (n) => new Uint32Array(n));
    const offsets = new Grow(new Uint32Array(4096), (n) => new Uint32Array(n));
    const values = new Grow(new Float32Array(4096), (n) => new Float32Array(n));
    let bagged = false;
    const part = new Uint16Array(1);
    for await (const b of file.batches(range)) {
      const slots = b.rows * F;
      if (b.bags && !bagged) {
        // From here on every row is kept in the bag layout: the earlier ones have one key of value 1 a slot.
        bagged = true;
        offsets.push([0]);
        for (let s = 0; s < labels.n * F; s++) { offsets.push([s + 1]); values.push([1]); }
      }
      labels.push(b.labels, 0, b.rows);
      lines.push(b.lines, 0, b.rows);
      part[0] = b.part ?? 0;
      for (let i = 0; i < b.rows; i++) parts.push(part);
      words.push(b.keyWords, 0, 2 * b.keys.length);
      if (!bagged) continue;
      const base = offsets.a[offsets.n - 1];
      if (b.bags) {
        for (let s = 1; s <= slots; s++) offsets.push([base + b.bags.offsets[s]]);
        values.push(b.bags.values, 0, b.keys.length);
      } else {
        for (let s = 1; s <= slots; s++) offsets.push([base + s]);
        for (let s = 0; s < slots; s++) values.push([1]);
      }
    }
    return new ShuffledRows(file.path, file.paths, file.numeric, F, batchSize, seed, labels.n, labels.done(), lines.done(), parts.done(), words.done(),
      bagged ? { offsets: offsets.done(), values: values.done() } : undefined);
  }

  /** Bytes held. */
  get bytes(): number {
    return this.labels.byteLength + this.lines.byteLength + this.parts.byteLength + this.words.byteLength
      + (this.bags ? this.bags.offsets.byteLength + this.bags.values.byteLength : 0);
  }

  /** The order of pass `epoch`: a Fisher-Yates shuffle seeded by (seed, epoch). */
  order(epoch: number): Uint32Array {
    const n = this.rows, p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    const r = new Random(deriveSeed(this.seed, `shuffle/${epoch}`));
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor((r.nextU32() / 2 ** 32) * (i + 1));
      const t = p[i]; p[i] = p[j]; p[j] = t;
    }
    return p;
  }

  /** The batches of pass `epoch` after its first `seen` rows; a batch's `seen` counts the rows of the pass up to its end. */
  async *pass(epoch: number, seen: number): AsyncGenerator<Batch, undefined> {
    const order = this.order(epoch), F = this.fields;
    for (let at = seen; at < this.rows; at += this.batchSize) {
      const rows = Math.min(this.batchSize, this.rows - at);
      yield this.batch(order.subarray(at, at + rows), F, at + rows);
    }
    return undefined;
  }

  private batch(idx: Uint32Array, F: number, seen: number): Batch {
    const rows = idx.length, labels = new Float32Array(rows), lines = new Float64Array(rows);
    let part = -1;
    for (let i = 0; i < rows; i++) {
      labels[i] = this.labels[idx[i]];
      lines[i] = this.lines[idx[i]];
      // A batch names one file in errors: the file of its first row.
      if (part < 0) part = this.parts[idx[i]];
    }
    let keys: BigUint64Array, bags: Batch["bags"];
    if (!this.bags) {
      keys = new BigUint64Array(rows * F);
      const w = new Uint32Array(keys.buffer), src = this.words, rw = 2 * F;
      for (let i = 0; i < rows; i++) w.set(src.subarray(idx[i] * rw, idx[i] * rw + rw), i * rw);
    } else {
      const off = this.bags.offsets, offsets = new Uint32Array(rows * F + 1);
      let n = 0;
      for (let i = 0; i < rows; i++) n += off[(idx[i] + 1) * F] - off[idx[i] * F];
      keys = new BigUint64Array(n);
      const w = new Uint32Array(keys.buffer), values = new Float32Array(n);
      let e = 0;
      for (let i = 0; i < rows; i++) {
        const s0 = idx[i] * F;
        for (let f = 0; f < F; f++) {
          const a = off[s0 + f], b = off[s0 + f + 1];
          w.set(this.words.subarray(2 * a, 2 * b), 2 * e);
          values.set(this.bags.values.subarray(a, b), e);
          e += b - a;
          offsets[i * F + f + 1] = e;
        }
      }
      bags = { offsets, values };
    }
    return {
      rows, labels, keys, keyWords: new Uint32Array(keys.buffer), numeric: new Float32Array(0), lines, seen,
      ...(bags ? { bags } : {}), part: Math.max(part, 0),
    };
  }
}
