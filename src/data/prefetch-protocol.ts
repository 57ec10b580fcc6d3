import type { Batch } from "./batch.js";
import type { ReadOptions, ReadStats } from "./reader.js";

/** What the main thread sends the reader thread when it starts. */
export interface PrefetchStart {
  path: string;
  options: Omit<ReadOptions, "prefetch">;
  range: { start?: number; end?: number };
}

/** Messages from the reader thread, in order: batches, then one end or error. */
export type PrefetchMessage =
  | { kind: "batch"; batch: Batch }
  | { kind: "end"; stats: Omit<ReadStats, "firstBad"> & { firstBad: DataErrorFields[] } }
  | { kind: "error"; error: SerializedError };

/** Errors cross threads as plain data; DataError keeps its location. */
export interface SerializedError {
  name: string;
  message: string;
  data?: DataErrorFields;
}

/** A DataError's location and reason (structured clone keeps only an Error's message). */
export interface DataErrorFields { file: string; line: number; column: string | number | undefined; reason: string }

/**
 * Main -> reader, in a shared Int32Array: [CREDITS] counts the batches the
 * consumer has taken (each lets the reader send one more), [SLEEPING] is 1
 * while the reader sleeps until notified.
 */
export const CREDITS = 0;
export const SLEEPING = 1;

/** The buffers of a batch, handed to the other thread without copying. */
export function batchBuffers(b: Batch): ArrayBuffer[] {
  const set = new Set<ArrayBuffer>();
  for (const a of [b.labels, b.keys, b.numeric, b.lines]) set.add(a.buffer as ArrayBuffer);
  return [...set];
}
