/**
 * Scoring on several threads outside a data-parallel run, such as the
 * calibration pass and the test evaluation after training: the rows of a
 * file are cut into one contiguous share per thread (./parallel-plan.ts
 * splitRows), each thread (a pool's, ./parallel-pool.ts: the caller's
 * ThreadOptions.pool, or started for the call; its job ./score-thread.ts)
 * enters its share at a seek point (data/seek.ts) and scores it with the model's tables read in
 * place in their shared WebAssembly memory (optim/table-share.ts: one copy
 * for every thread) and a copy of its dense weights, and the shares come
 * back in row order. Every thread computes each row as CtrModel.logits does
 * (the layer kernels give the same bits on any number of threads), so the
 * figures are evaluateModel's and collectLogits' bit for bit. Where threads
 * do not pay (see START_ROWS) or cannot be used (threadsUnsupported), those
 * run on this thread.
 */
import type { Worker } from "node:worker_threads";
import type { DataFile, SeekPoint } from "../data/types.js";
import { scanRows } from "../data/seek.js";
import { isGzip } from "../data/source.js";
import { isStdin } from "../data/stdin.js";
import { configureLayers } from "../kernels/layers/index.js";
import { SparseTable } from "../optim/table.js";
import { shareTable, unshareTable } from "../optim/table-share.js";
import { collectLogits } from "./calibration.js";
import { evaluateLogits, evaluateModel, type Evaluation, type Logits } from "./evaluate.js";
import type { CtrModel } from "./model.js";
import { splitRows } from "./parallel-plan.js";
import { packWeights } from "./replica.js";
import type { ScoredShare } from "./score-share.js";
import type { ScoreThreadInit } from "./score-thread.js";
import { WorkerPool, type ScoreReply } from "./parallel-pool.js";

/**
 * What starting scoring threads costs, in rows this thread would score
 * meanwhile: threads score a file when rows x (1 - 1/threads) > START_ROWS,
 * from 200k rows with 2 threads and from 107k with 16. `npm run bench --
 * threads-eval` (dcn, 2 cores): a thread starts in about 0.2 s, the
 * time of 36k rows here, but a thread scores slower than this thread with
 * its two layer threads, and 2 threads broke even at 200k rows (docs/threads.md).
 */
export const START_ROWS = 100_000;

/**
 * START_ROWS for threads of a pool that are started already (ThreadOptions.pool
 * holding an idle thread for each): threads score a file when rows x (1 -
 * 1/threads) > POOL_START_ROWS, from 60k rows with 2 threads and from 32k
 * with 16. `npm run bench -- threads-eval` (dcn, 2 cores, pooled-threads
 * lines): a scoring's fixed cost on them (the jobs posted, each thread's
 * replica of the dense layers, its reader entering its share) is about
 * 6k rows of this thread's, but a thread scores slower than this thread
 * with its two layer threads: 2 pooled threads broke even between 25k and
 * 50k rows, and the setting keeps to the safe side of that
 * (docs/threads.md).
 */
export const POOL_START_ROWS = 30_000;

/** Ids per lookup piece of a scoring thread (its scratch in each table's memory). */
const PIECE_IDS = 16_384;

/** Rows of a file: [start, end), each open side the file's own range. */
type Range = { start?: number; end?: number };

/** Options of {@link evaluateThreads} and {@link logitsThreads}. */
export interface ThreadOptions {
  /** Rows one thread scores while a scoring thread starts (default START_ROWS, or POOL_START_ROWS with a pool's threads): see there. */
  startRows?: number;
  /** Threads started ahead (./parallel-pool.ts): the scoring takes them and gives them back (when it has an idle one for each thread that scores). */
  pool?: WorkerPool;
}

/** The threads that score `rows` rows given `threads`: all of them where they save more than starting one costs (START_ROWS), else 1. */
export function scoringThreads(rows: number, threads: number, startRows = START_ROWS): number {
  const n = Math.min(threads, rows);
  return n > 1 && rows * (1 - 1 / n) > startRows ? n : 1;
}

/** Why the rows of `file` are scored on this thread whatever the threads; undefined when threads can score them. */
function threadsUnsupported(m: CtrModel, file: DataFile): string | undefined {
  if (!m.tables.every((t) => t instanceof SparseTable && t.arena.backend === "wasm")) return "tables that are sharded or outside WebAssembly memory";
  if (file.options.skipBadRows === true) return "skipped bad rows (one reader reports and counts them)";
  if (file.paths.some(isStdin)) return "standard input";
  return undefined;
}

/**
 * Where the threads enter the rows `range` of `file`: its end (counted by
 * one scan that splits lines without parsing them, when the range has none)
 * and seek points; undefined when a gzip file has no points (every thread
 * would inflate it from its start).
 */
async function entry(file: DataFile, range: Range | undefined): Promise<{ start: number; end: number; seek: readonly SeekPoint[] } | undefined> {
  const start = range?.start ?? file.options.range?.start ?? 0;
  let end = range?.end ?? file.options.range?.end, seek = file.options.seek;
  if (seek === undefined || end === undefined) {
    let scan = scanned.get(file);
    if (scan === undefined) {
      for (const p of file.paths) if (await isGzip(p)) return undefined;
      let rows = 0;
      const points = await scanRows(file, { row: () => { rows++; } });
      scanned.set(file, scan = { rows, points });
    }
    seek ??= scan.points;
    end ??= scan.rows;
  }
  return { start, end: Math.max(start, end), seek };
}

/** The scans of opened files (a validation file of its own is scored at every evaluation of a run). */
const scanned = new WeakMap<DataFile, { rows: number; points: readonly SeekPoint[] }>();

/**
 * The rows `range` of `file` scored on `threads` threads, as logits with
 * their labels, one share per thread in row order;
 * undefined when this thread is to score them (threads would not pay, or
 * cannot score them).
 */
async function scoreShares(m: CtrModel, file: DataFile, range: Range | undefined, threads: number, opts: ThreadOptions): Promise<ScoredShare[] | undefined> {
  if (!Number.isSafeInteger(threads) || threads < 1) throw new RangeError(`threads = ${threads} must be a positive integer`);
  const startRows = opts.startRows ?? ((opts.pool?.size ?? 0) >= threads ? POOL_START_ROWS : START_ROWS);
  if (!(startRows >= 0)) throw new RangeError(`startRows = ${startRows} must be a number >= 0`);
  if (threads === 1 || threadsUnsupported(m, file) !== undefined) return undefined;
  const at = await entry(file, range);
  if (at === undefined) return undefined;
  const n = scoringThreads(at.end - at.start, threads, startRows);
  if (n === 1) return undefined;
  const tables = m.tables as SparseTable[];
  const shares = tables.map((t) => shareTable(t, n, PIECE_IDS, 0));
  const weights = packWeights(m.params);
  const read = { ...file.options, onSkip: undefined, range: undefined, seek: at.seek };
  // A pool's idle threads are started already; without one, or while its threads are busy (a run holds them), this call's own are started and ended.
  const pooled = opts.pool !== undefined && opts.pool.size >= n, pool = pooled ? opts.pool! : new WorkerPool(0);
  const workers: Worker[] = [], replied = new Set<Worker>();
  let failure: { error: unknown } | undefined;
  try {
    const runs = splitRows(at.start, at.end, n).map((part, k) => new Promise<ScoredShare>((resolve, reject) => {
      const init: ScoreThreadInit = {
        thread: k, settings: m.settings, fields: m.inputs.fields, tables: shares, admission: m.admission !== undefined, weights,
        fma: configureLayers({}).fma, paths: file.paths, read, part,
      };
      const w = pool.takeScorer(init);
      workers.push(w);
      const off = (): void => { w.off("message", onReply); w.off("error", onError); w.off("exit", onExit); };
      const onReply = (r: ScoreReply): void => { off(); replied.add(w); resolve(r.share); };
      const onError = (e: Error): void => { off(); reject(e); };
      const onExit = (code: number): void => { off(); reject(new Error(`scoring thread ${k} of ${n} stopped (exit code ${code}) before its scores of ${file.path}`)); };
      w.on("message", onReply);
      w.on("error", onError);
      w.on("exit", onExit);
    }));
    // The first failure is the error (it ends the other threads); the shares go once no thread reads them.
    const settled = await Promise.allSettled(runs.map((r) => r.catch(async (error: unknown) => {
      failure ??= { error };
      await Promise.all(workers.map((w) => w.terminate()));
      throw error;
    })));
    if (failure) throw (failure as { error: unknown }).error;
    return settled.map((s) => (s as PromiseFulfilledResult<ScoredShare>).value);
  } finally {
    if (!pooled) await pool.close();
    // The threads that replied go back to the pool (a closed one ends them); the others end.
    await Promise.all(workers.map((w) => (failure === undefined && replied.has(w) ? pool.giveBack(w) : w.terminate())));
    tables.forEach((t, k) => unshareTable(t, shares[k]));
  }
}

/**
 * evaluateModel's AUC and log loss of the model on the rows `range` of
 * `file`, on `threads` threads where they pay; `threads` says how many
 * scored them. The threads score logits, calibrated here (evaluateLogits:
 * the same figures bit for bit); with `opts.logits` they come back with the
 * figures (scored on this thread too).
 */
export async function evaluateThreads(m: CtrModel, file: DataFile, range: Range | undefined, threads: number, opts: ThreadOptions & { logits?: boolean } = {}): Promise<Evaluation & { threads: number }> {
  const shares = await scoreShares(m, file, range, threads, opts);
  if (shares === undefined && opts.logits !== true) return { ...await evaluateModel(m, file, range), threads: 1 };
  const { logits, ...figures } = evaluateLogits(m.calibration, shares === undefined ? await logitsHere(m, file, range) : joinShares(shares));
  return { ...figures, threads: logits.threads, ...(opts.logits === true ? { logits } : {}) };
}

/** collectLogits' logits of the model on the rows `range` of `file` with their labels, on `threads` threads where they pay; `threads` says how many scored them. */
export async function logitsThreads(m: CtrModel, file: DataFile, range: Range | undefined, threads: number, opts: ThreadOptions = {}): Promise<Logits> {
  const shares = await scoreShares(m, file, range, threads, opts);
  return shares === undefined ? logitsHere(m, file, range) : joinShares(shares);
}

/** collectLogits' logits on this thread. */
async function logitsHere(m: CtrModel, file: DataFile, range: Range | undefined): Promise<Logits> {
  return { ...await collectLogits((b, out) => m.logits(b, out), file, range), threads: 1 };
}

/** Shares of logits (in row order) as one Logits. */
export function joinShares(shares: readonly ScoredShare[]): Logits {
  const rows = shares.reduce((a, s) => a + s.scores.length, 0), z = new Float64Array(rows), y = new Float32Array(rows);
  let o = 0;
  for (const s of shares) { z.set(s.scores, o); y.set(s.labels, o); o += s.scores.length; }
  return { z, y, threads: shares.length };
}
