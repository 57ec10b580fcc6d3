/**
 * Worker threads of the data-parallel trainer started ahead of their run
 * (WorkerPool): a thread loads its modules and compiles its kernels (about
 * 0.2 s each, timed by hand) while the caller does other work, e.g. the CLI's pass that
 * counts the training rows, and gets its run's WorkerInit as its first
 * message when trainParallel takes it (ParallelOptions.pool). Unused
 * threads never keep the process alive; close() ends them.
 */
import { Worker } from "node:worker_threads";
import type { WorkerInit } from "./parallel-protocol.js";

/** The worker's module (./parallel-worker.ts). */
export const WORKER_URL = new URL("./parallel-worker.js", import.meta.url);

/** What a pooled worker is started with: it waits for its WorkerInit. */
export interface PooledWorkerData { pooled: true; fma: boolean }

export class WorkerPool {
  private readonly idle: Worker[] = [];
  private closed = false;

  /**
   * Starts `n` worker threads now, their layer kernels compiled with fused
   * multiply-adds or not (`fma`, as the run will configureLayers; a run set
   * otherwise compiles them again).
   */
  constructor(n: number, opts: { fma?: boolean } = {}) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`a pool of ${n} workers: use a non-negative integer`);
    for (let k = 0; k < n; k++) {
      const w = new Worker(WORKER_URL, { workerData: { pooled: true, fma: opts.fma === true } satisfies PooledWorkerData });
      w.unref();
      // A pooled thread that fails before it is taken is replaced then (its error is its own: nothing waits on it).
      const drop = (): void => { const i = this.idle.indexOf(w); if (i >= 0) this.idle.splice(i, 1); };
      w.on("error", drop);
      w.on("exit", drop);
      this.idle.push(w);
    }
  }

  /** Threads started and not taken yet. */
  get size(): number { return this.idle.length; }

  /** A started thread given its run (a new one when none is left), kept alive until it exits. */
  take(init: WorkerInit): Worker {
    if (this.closed) throw new Error("the worker pool is closed");
    const w = this.idle.shift();
    if (w === undefined) return new Worker(WORKER_URL, { workerData: init });
    w.ref();
    w.postMessage(init);
    return w;
  }

  /** Ends the threads not taken. */
  async close(): Promise<void> {
    this.closed = true;
    const left = this.idle.splice(0);
    await Promise.all(left.map((w) => w.terminate()));
  }
}
