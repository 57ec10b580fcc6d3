/**
 * Rows of a DataFile held in memory after a pass has read them: the
 * validation rows that early stopping scores at every evaluation are read
 * and parsed once. The first complete pass over a range (within a byte
 * budget) keeps its batches; a later pass over the same range yields those
 * batches again (the same objects: readers must not write into a batch) and
 * ends with the same statistics. Any other range, a pass stopped before its
 * end, and a range whose batches pass the budget stream from the files as
 * before. The batches readers yield are fresh objects (data/assemble.ts), so
 * a held batch is never written over by a later pass.
 */
import type { Batch } from "./batch.js";
import type { DataFile, ReadStats } from "./types.js";

type Range = { start?: number; end?: number } | undefined;

/**
 * Bytes of evaluation rows the CLI holds in memory: its validation rows, on
 * the deterministic trainer's thread or as the data-parallel workers'
 * shares (each worker a 1/N part: heldBudget). 100k Criteo rows take 32 MB.
 */
export const HELD_ROWS_BYTES = 256 * 2 ** 20;

/** Bytes a batch takes in memory (its arrays). */
export function batchBytes(b: Batch): number {
  let n = b.labels.byteLength + b.keys.byteLength + b.numeric.byteLength + b.lines.byteLength;
  if (b.bags) n += b.bags.offsets.byteLength + b.bags.values.byteLength;
  return n;
}

/** The files heldRows made, with their budgets. */
const budgets = new WeakMap<DataFile, number>();

/**
 * The byte budget of a file heldRows made, undefined for any other: a
 * scorer whose threads read the file's rows themselves holds their shares
 * within it (each thread a part), as the file holds its rows.
 */
export function heldBudget(file: DataFile): number | undefined {
  return budgets.get(file);
}

/**
 * `file` with the rows of one range held in memory once a pass has read them
 * all, up to `maxBytes` of batches (see the module comment). Its `stats` are
 * those of the last pass, held or read.
 */
export function heldRows(file: DataFile, maxBytes: number): DataFile {
  if (!(maxBytes >= 0)) throw new RangeError(`held rows: a budget of ${maxBytes} bytes`);
  let held: { key: string; batches: Batch[]; stats: ReadStats } | undefined;
  // Ranges whose batches passed the budget: not recorded again.
  const over = new Set<string>();
  const wrapped: DataFile = {
    ...file,
    batches: (range) => {
      const key = `${range?.start ?? "-"}:${range?.end ?? "-"}`;
      if (held?.key === key) return replay(held);
      return read(range, held === undefined && !over.has(key) ? key : undefined);
    },
  };

  async function* replay(h: { batches: Batch[]; stats: ReadStats }): AsyncGenerator<Batch, ReadStats> {
    const stats = { ...h.stats, firstBad: [...h.stats.firstBad] };
    wrapped.stats = stats;
    for (const b of h.batches) yield b;
    return stats;
  }

  async function* read(range: Range, key: string | undefined): AsyncGenerator<Batch, ReadStats> {
    const it = file.batches(range);
    let batches: Batch[] | undefined = key === undefined ? undefined : [], bytes = 0;
    try {
      for (;;) {
        const r = await it.next();
        // The inner pass's statistics, updated as it goes.
        wrapped.stats = file.stats;
        if (r.done) {
          wrapped.stats = r.value;
          if (batches !== undefined) held = { key: key!, batches, stats: { ...r.value, firstBad: [...r.value.firstBad] } };
          return r.value;
        }
        if (batches !== undefined) {
          bytes += batchBytes(r.value);
          if (bytes > maxBytes) {
            batches = undefined;
            over.add(key!);
          } else batches.push(r.value);
        }
        yield r.value;
      }
    } finally {
      // A pass stopped early (or failed) holds nothing and closes the inner one.
      await it.return?.(undefined as unknown as ReadStats);
    }
  }

  budgets.set(wrapped, maxBytes);
  return wrapped;
}
