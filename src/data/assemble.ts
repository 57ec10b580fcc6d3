// Assembling parsed rows into batches: the one-key-per-slot layout, switched
// to the bag layout (Batch.bags) at the first row that needs it.
import { allocBatch, trimBatch, type Batch } from "./batch.js";
import { DataError } from "./errors.js";
import type { RowBag } from "./formats/rowbag.js";

/** Most keys one batch may hold in the bag layout (512 MiB of keys, 256 MiB of values). */
export const MAX_BATCH_KEYS = 2 ** 26;

/**
 * Builds one batch at a time. Rows go in the plain layout (parsers write a
 * row's keys straight to keyWords at `keyOffset()`) until a row comes with
 * an active bag: the batch then turns into the bag layout (the rows so far
 * keep their keys, one per slot, value 1) and stays in it until it is taken.
 * A batch of plain rows only never has bags.
 */
export class BatchAssembler {
  batch: Batch;
  rows = 0;
  /** Whether the batch is in the bag layout. */
  bagged = false;
  /** Keys in the bag layout. */
  private nk = 0;

  constructor(private readonly capacity: number, private readonly F: number, private readonly N: number, private part: number) {
    this.batch = allocBatch(capacity, F, N, { part });
  }

  /** Starts the batches of another file (the current one must be empty). */
  setPart(part: number): void {
    this.part = part;
    this.batch.part = part;
  }

  /**
   * The u32 offset in batch.keyWords where the parser writes the next row's
   * plain keys (read keyWords after calling: the bag layout may grow it).
   */
  keyOffset(file: string, line: number): number {
    if (!this.bagged) return 2 * this.F * this.rows;
    this.room(this.nk + this.F, file, line);
    return 2 * this.nk;
  }

  /**
   * Ends a parsed row: its keys are at keyOffset() (plain), or in `bag` when
   * that is active (then cleared). Returns true when the batch is full.
   */
  commit(label: number, line: number, file: string, bag: RowBag | undefined): boolean {
    const r = this.rows;
    if (bag !== undefined && bag.active) {
      bag.active = false;
      this.addBag(bag, file, line);
    } else if (this.bagged) this.addPlain();
    this.batch.labels[r] = label;
    this.batch.lines[r] = line;
    return ++this.rows === this.capacity;
  }

  /** The full batch, with `seen`; a new one starts. */
  take(seen: number): Batch {
    const b = this.bagged ? trimBatch(this.batch, this.rows, this.F, this.N) : this.batch;
    b.rows = this.rows;
    b.seen = seen;
    this.restart();
    return b;
  }

  /** The rows so far as a short batch with `seen` (null when none); a new one starts. */
  takeRest(seen: number): Batch | null {
    if (this.rows === 0) return null;
    const b = trimBatch(this.batch, this.rows, this.F, this.N);
    b.seen = seen;
    this.restart();
    return b;
  }

  /** A new, empty batch in the plain layout. */
  private restart(): void {
    this.batch = allocBatch(this.capacity, this.F, this.N, { part: this.part });
    this.rows = 0;
    this.nk = 0;
    this.bagged = false;
  }

  /** The row's keys from the bag; the batch turns into the bag layout first. */
  private addBag(bag: RowBag, file: string, line: number): void {
    const F = this.F, r = this.rows;
    if (!this.bagged) this.toBags();
    this.room(this.nk + bag.n, file, line);
    const bags = this.batch.bags!;
    this.batch.keyWords.set(bag.keys.subarray(0, 2 * bag.n), 2 * this.nk);
    bags.values.set(bag.values.subarray(0, bag.n), this.nk);
    const off = bags.offsets;
    for (let f = 0; f < F; f++) off[r * F + f + 1] = off[r * F + f] + bag.counts[f];
    this.nk += bag.n;
  }

  /** A plain row (its keys already at keyOffset()) in the bag layout. */
  private addPlain(): void {
    const F = this.F, r = this.rows, off = this.batch.bags!.offsets;
    for (let f = 1; f <= F; f++) off[r * F + f] = this.nk + f;
    this.batch.bags!.values.fill(1, this.nk, this.nk + F);
    this.nk += F;
  }

  /** Turns the batch into the bag layout: the rows so far hold one key each, value 1. */
  private toBags(): void {
    const n = this.rows * this.F, b = this.batch;
    const offsets = new Uint32Array(this.capacity * this.F + 1);
    for (let s = 1; s <= n; s++) offsets[s] = s;
    const values = new Float32Array(b.keys.length);
    values.fill(1, 0, n);
    b.bags = { offsets, values };
    this.nk = n;
    this.bagged = true;
  }

  /** Room for `need` keys in the bag layout (doubling). */
  private room(need: number, file: string, line: number): void {
    const b = this.batch;
    if (need <= b.keys.length) return;
    if (need > MAX_BATCH_KEYS) throw new DataError(file, line, undefined, `the batch's rows hold more than ${MAX_BATCH_KEYS} feature keys: use a smaller batch size`);
    const cap = Math.min(MAX_BATCH_KEYS, Math.max(need, 2 * b.keys.length));
    const keys = new BigUint64Array(cap);
    keys.set(b.keys.subarray(0, this.nk));
    const values = new Float32Array(cap);
    values.set(b.bags!.values.subarray(0, this.nk));
    b.keys = keys;
    b.keyWords = new Uint32Array(keys.buffer);
    b.bags!.values = values;
  }
}
