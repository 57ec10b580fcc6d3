import { Worker } from "node:worker_threads";
import type { Batch } from "./batch.js";
import { DataError } from "./errors.js";
import type { DataFile, ReadOptions, ReadStats } from "./reader.js";
import type { DataErrorFields, PrefetchMessage, PrefetchStart, SerializedError } from "./prefetch-protocol.js";

/** Batches the reader thread may run ahead by default (about 1.3 MB at Criteo's 39 fields and batch 512). */
export const DEFAULT_PREFETCH_DEPTH = 8;

/**
 * One pass over a file with the reading, parsing and hashing on a second
 * thread. The batches are the same bytes in the same order as a pass on the
 * calling thread (it runs the same reader), so a model trained from them is
 * bit-for-bit the same. The thread is stopped when the pass ends, fails, or
 * the consumer stops early (a `break` out of `for await`).
 */
export async function* prefetchPass(
  file: DataFile, options: ReadOptions, range: { start?: number; end?: number }, depth: number,
): AsyncGenerator<Batch, ReadStats> {
  const { prefetch: _ignored, ...rest } = options;
  const data: PrefetchStart & { depth: number } = { path: file.path, options: rest, range, depth };
  const worker = new Worker(new URL("./prefetch-worker.js", import.meta.url), { workerData: data });
  const queue: PrefetchMessage[] = [];
  let notify: (() => void) | undefined;
  let failure: Error | undefined;
  worker.on("message", (m: PrefetchMessage) => { queue.push(m); notify?.(); });
  worker.on("error", (e) => { failure = e; notify?.(); });
  worker.on("exit", (code) => {
    if (code !== 0 && !failure) failure = new Error(`${file.path}: the reader thread exited with code ${code}`);
    notify?.();
  });
  const stats: ReadStats = { rows: 0, skipped: 0, firstBad: [], seen: 0 };
  file.stats = stats;
  try {
    for (;;) {
      while (queue.length === 0 && !failure) await new Promise<void>((r) => { notify = r; });
      notify = undefined;
      const m = queue.shift();
      if (!m) throw failure!;
      if (m.kind === "error") throw deserialize(m.error);
      if (m.kind === "end") {
        Object.assign(stats, m.stats, { firstBad: m.stats.firstBad.map(toDataError) });
        return stats;
      }
      stats.rows += m.batch.rows;
      worker.postMessage({ credit: 1 });
      yield m.batch;
    }
  } finally {
    await worker.terminate();
  }
}

function toDataError(d: DataErrorFields): DataError {
  return new DataError(d.file, d.line, d.column, d.reason);
}

function deserialize(e: SerializedError): Error {
  if (e.data) return toDataError(e.data);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}
