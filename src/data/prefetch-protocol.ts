// The messages and shared counters between a prefetched pass and its reader thread.
import type { MessagePort } from "node:worker_threads";
import type { Batch } from "./batch.js";
import type { ReadOptions, ReadStats } from "./types.js";
import type { DataErrorFields } from "./errors.js";

/** What the main thread sends the reader thread when it starts. */
export interface PrefetchStart {
  /** The files, read in order as one (DataFile.paths). */
  paths: string[];
  options: Omit<ReadOptions, "onSkip">;
  range: { start?: number; end?: number };
}

/**
 * Messages from the reader thread, in order: batches and skipped rows (with
 * skipBadRows, each as it is skipped), then one end or error.
 */
export type PrefetchMessage =
  | { kind: "batch"; batch: Batch }
  | { kind: "skip"; error: DataErrorFields }
  | { kind: "end"; stats: Omit<ReadStats, "firstBad"> & { firstBad: DataErrorFields[] } }
  | { kind: "error"; error: SerializedError };

/** Errors cross threads as plain data; DataError keeps its location. */
export interface SerializedError {
  name: string;
  message: string;
  data?: DataErrorFields;
}


/**
 * The shared counters of a pass (Int32Array of CONTROL_WORDS): [SENT] counts
 * the messages the reader posted (the consumer sleeps on it when none is
 * waiting); [CREDITS] counts the batches the consumer has taken (each lets
 * the reader send one more); [SLEEPING] is 1 while the reader sleeps until
 * notified.
 */
export const SENT = 0;
export const CREDITS = 1;
export const SLEEPING = 2;
export const CONTROL_WORDS = 3;

/** The reader thread's workerData. */
export interface PrefetchWorkerData extends PrefetchStart {
  depth: number;
  port: MessagePort;
  control: Int32Array;
}

/** The buffers of a batch (its bags' too), handed to the other thread without copying. */
export function batchBuffers(b: Batch): ArrayBuffer[] {
  const set = new Set<ArrayBuffer>();
  for (const a of [b.labels, b.keys, b.numeric, b.lines]) set.add(a.buffer as ArrayBuffer);
  if (b.bags) for (const a of [b.bags.offsets, b.bags.values]) set.add(a.buffer as ArrayBuffer);
  return [...set];
}
