/**
 * A pool of worker threads (WorkerPool) for the data-parallel trainer and
 * the scoring threads: a thread loads its modules and compiles its layer
 * kernels once, when it starts (about 0.2 s each, timed by hand), e.g.
 * while the CLI counts the training rows, then serves jobs one after
 * another (./pool-thread.ts): a run's training (trainParallel's
 * ParallelOptions.pool) or a share of rows to score (./score-threads.ts's
 * ThreadOptions.pool). A thread that ended its job cleanly is given back
 * and serves the next run or scoring of the process; one whose run failed
 * ends. Idle threads never keep the process alive; close() ends them.
 */
import { Worker } from "node:worker_threads";
import type { WorkerInit } from "./parallel-protocol.js";
import type { ScoredShare } from "./score-share.js";
import type { ScoreThreadInit } from "./score-thread.js";

/** The threads' module (./pool-thread.ts). */
const THREAD_URL = new URL("./pool-thread.js", import.meta.url);

/** What a pool's thread is started with: it waits for its jobs. */
export interface PooledWorkerData { fma: boolean }

/** A job for a pooled thread. */
export type PoolJob = { kind: "train"; init: WorkerInit } | { kind: "score"; init: ScoreThreadInit };

/** A pooled thread's reply to a scoring job. */
export interface ScoreReply { kind: "share"; share: ScoredShare }

export class WorkerPool {
  private readonly idle: Worker[] = [];
  private closed = false;

  /**
   * Starts `n` threads now, their layer kernels compiled with fused
   * multiply-adds or not (`fma`, as the jobs will configureLayers; a job set
   * otherwise compiles them again).
   */
  constructor(n: number, opts: { fma?: boolean } = {}) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`a pool of ${n} workers: use a non-negative integer`);
    for (let k = 0; k < n; k++) this.idle.push(this.start(opts.fma === true));
  }

  /** Threads idle (started, or given back, and not taken). */
  get size(): number { return this.idle.length; }

  /** A thread given a run's training (a new one when none is idle), kept alive until given back or ended. */
  take(init: WorkerInit): Worker {
    return this.post({ kind: "train", init }, init.fma);
  }

  /** A thread given a share of rows to score; it replies once with a ScoreReply. */
  takeScorer(init: ScoreThreadInit): Worker {
    return this.post({ kind: "score", init }, init.fma);
  }

  /**
   * Takes back a thread this pool gave out whose job ended cleanly (its
   * listeners removed by the caller); after close() it is ended instead.
   */
  async giveBack(w: Worker): Promise<void> {
    if (this.closed) {
      await w.terminate();
      return;
    }
    w.unref();
    this.idle.push(w);
  }

  /** Ends the idle threads; later takes are refused and threads given back are ended. */
  async close(): Promise<void> {
    this.closed = true;
    const left = this.idle.splice(0);
    await Promise.all(left.map((w) => w.terminate()));
  }

  private post(job: PoolJob, fma: boolean): Worker {
    if (this.closed) throw new Error("the worker pool is closed");
    const w = this.idle.shift() ?? this.start(fma);
    w.ref();
    w.postMessage(job);
    return w;
  }

  private start(fma: boolean): Worker {
    const w = new Worker(THREAD_URL, { workerData: { fma } satisfies PooledWorkerData });
    w.unref();
    // An idle thread that fails is dropped (its error is its own: nothing waits on it).
    const drop = (): void => { const i = this.idle.indexOf(w); if (i >= 0) this.idle.splice(i, 1); };
    w.on("error", drop);
    w.on("exit", drop);
    return w;
  }
}
