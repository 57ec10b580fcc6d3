// A pass whose reading, parsing and hashing run on a second thread.
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import type { Batch } from "./batch.js";
import { dataErrorOf } from "./errors.js";
import { MAX_BAD_KEPT } from "./badrows.js";
import type { DataFile, ReadStats } from "./types.js";
import {
  CONTROL_WORDS, CREDITS, SENT, SLEEPING, type PrefetchMessage, type PrefetchWorkerData, type SerializedError,
} from "./prefetch-protocol.js";

/** Batches the reader thread may run ahead by default (about 1.3 MB at Criteo's 39 fields and batch 512). */
export const DEFAULT_PREFETCH_DEPTH = 8;

/**
 * The same data with every pass read, parsed and hashed on a second thread,
 * at most `depth` batches ahead (true: DEFAULT_PREFETCH_DEPTH). The thread
 * opens the files with the options they were opened with (format and schema
 * resolved) and runs the same reader, so the batches are the same bytes in
 * the same order and a model trained from them is the same bit for bit; only
 * the wall time changes. Depth 0 (or false) returns the data as it is.
 */
export function prefetched(file: DataFile, depth: number | boolean = true): DataFile {
  const d = depth === true ? DEFAULT_PREFETCH_DEPTH : depth === false ? 0 : depth;
  if (!(Number.isSafeInteger(d) && d >= 0 && d <= 1024)) throw new RangeError(`prefetch depth ${String(depth)} must be true, false or a depth in [0, 1024] batches`);
  if (d === 0) return file;
  const own = file.options.range;
  const wrapped: DataFile = {
    ...file,
    stats: { rows: 0, skipped: 0, firstBad: [], seen: 0 },
    // A pass's own range overrides the file's, field by field, as in openData.
    batches: (range) => prefetchPass(wrapped, { start: range?.start ?? own?.start, end: range?.end ?? own?.end }, d),
  };
  return wrapped;
}

/**
 * One pass of `file` on a second thread; the thread is stopped when the pass
 * ends, fails, or the consumer stops early (a `break` out of `for await`).
 * The options' onSkip is called here, on the consuming thread, for each row
 * the reader thread reports skipped, in order with the batches.
 */
async function* prefetchPass(file: DataFile, range: { start?: number; end?: number }, depth: number): AsyncGenerator<Batch, ReadStats> {
  const { onSkip, ...rest } = file.options;
  // Batches come over a port the consumer reads synchronously (no event-loop
  // turn per batch while the trainer is busy); a shared counter of messages
  // sent lets it sleep, without spinning, only when none is waiting.
  const { port1, port2 } = new MessageChannel();
  const ctl = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  const data: PrefetchWorkerData = { paths: [...file.paths], options: rest, range, depth, port: port2, control: ctl };
  const worker = new Worker(new URL("./prefetch-worker.js", import.meta.url), { workerData: data, transferList: [port2] });
  let failure: Error | undefined, wake: (() => void) | undefined;
  const fail = (e: Error): void => { failure ??= e; wake?.(); };
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`${file.path}: the reader thread exited${code !== 0 ? ` with code ${code}` : " early"}`)));
  let received = 0;
  // A batch taken lets the reader send one more: a shared count, no message;
  // the reader naps and looks, and is notified only when it sleeps.
  const giveBack = (): void => {
    Atomics.add(ctl, CREDITS, 1);
    if (Atomics.load(ctl, SLEEPING) === 1) Atomics.notify(ctl, CREDITS);
  };
  /** A message already queued, or undefined: synchronous, no event-loop turn. */
  const take = (): PrefetchMessage | undefined => {
    const r = receiveMessageOnPort(port1);
    if (!r) return undefined;
    received++;
    return r.message as PrefetchMessage;
  };
  /** Sleeps (no spinning) until the reader sends something, or fails. */
  const waitFor = async (): Promise<PrefetchMessage> => {
    for (;;) {
      const m = take();
      if (m) return m;
      if (failure) throw failure;
      const count = Atomics.load(ctl, SENT);
      // Counted but not yet readable: let the message land.
      if (count > received) { await new Promise((res) => setImmediate(res)); continue; }
      const w = Atomics.waitAsync(ctl, SENT, count);
      if (w.async) await Promise.race([w.value, new Promise<void>((res) => { wake = res; })]);
      wake = undefined;
    }
  };
  const stats: ReadStats = { rows: 0, skipped: 0, firstBad: [], seen: 0 };
  file.stats = stats;
  try {
    for (;;) {
      // A batch already waiting is taken without an await (which would let the event loop run).
      const m = take() ?? await waitFor();
      if (m.kind === "error") throw deserialize(m.error);
      if (m.kind === "end") {
        Object.assign(stats, m.stats, { firstBad: m.stats.firstBad.map(dataErrorOf) });
        return stats;
      }
      if (m.kind === "skip") {
        const e = dataErrorOf(m.error);
        stats.skipped++;
        if (stats.firstBad.length < MAX_BAD_KEPT) stats.firstBad.push(e);
        onSkip?.(e);
        continue;
      }
      stats.rows += m.batch.rows;
      stats.seen = m.batch.seen;
      giveBack();
      yield m.batch;
    }
  } finally {
    port1.close();
    await worker.terminate();
  }
}

function deserialize(e: SerializedError): Error {
  if (e.data) return dataErrorOf(e.data);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}
