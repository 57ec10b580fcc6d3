import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import {
  C_ACTIVE, C_A, C_B, C_BLOCK, C_C, C_DONE, C_ERR, C_K, C_LAYOUT, C_M, C_N, C_NEXT, C_OP, C_READY, C_ROWS, C_SEQ, C_SLEEPING, C_WORK,
  CONTROL_WORDS, OP_BLOCKS, OP_QUIT, type LayerWorkerData,
} from "./protocol.js";

/** How long the main thread waits for the helper's half before it calls the helper dead. */
const STALL_MS = 60_000;

/**
 * The second thread of the matrix products: a worker with its own instance
 * of the layer module over the same shared memory. `start` hands it a
 * product whose blocks of rows both threads then take (`take`); `finish`
 * waits for the helper's last block.
 * The worker spins between jobs only during an active phase (see
 * {@link LayerHelper.active}) and otherwise sleeps in Atomics.wait; it is
 * unref'd: it never keeps the process alive.
 */
export class LayerHelper {
  private readonly ctl = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  private readonly worker: Worker;
  private seq = 0;
  private busy = false;
  private failure: Error | undefined;

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory) {
    const data: LayerWorkerData = { module, memory, control: this.ctl.buffer as SharedArrayBuffer };
    this.worker = new Worker(new URL("./worker.js", import.meta.url), { workerData: data });
    this.worker.unref();
    this.worker.on("error", (e) => { this.failure ??= e; });
    this.worker.on("exit", (code) => { this.failure ??= new Error(`sparsectr: the product thread exited (code ${code})`); });
  }

  /**
   * True once the thread runs. A worker starts through the main thread's
   * event loop, so a synchronous training loop may run its first products
   * before that; they run whole on the calling thread (the same bits).
   */
  get ready(): boolean {
    return this.failure === undefined && Atomics.load(this.ctl, C_READY) === 1;
  }

  /**
   * Starts or ends a phase of many products: during one the helper spins
   * between jobs (it is woken now, so that its wake-up overlaps the caller's
   * work before the first product), outside it sleeps.
   */
  active(on: boolean): void {
    Atomics.store(this.ctl, C_ACTIVE, on ? 1 : 0);
    if (on && Atomics.load(this.ctl, C_SLEEPING) === 1) Atomics.notify(this.ctl, C_SEQ);
  }

  /** Throws the helper's failure, if any. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /**
   * Starts a product on the helper: it packs its copy of B (copy 1, see
   * sgemmPackB) and takes blocks of `block` rows with {@link take}, as the
   * calling thread does, until none are left.
   */
  start(layout: number, a: number, b: number, c: number, m: number, k: number, n: number, work: number, block: number): void {
    if (this.failure) throw this.failure;
    if (this.busy) throw new Error("sparsectr: product thread is already busy");
    const t = this.ctl;
    t[C_OP] = OP_BLOCKS; t[C_LAYOUT] = layout; t[C_A] = a | 0; t[C_B] = b | 0; t[C_C] = c | 0;
    t[C_M] = m; t[C_K] = k; t[C_N] = n; t[C_WORK] = work | 0; t[C_BLOCK] = block;
    Atomics.store(t, C_NEXT, 0);
    this.busy = true;
    this.seq = (this.seq + 1) | 0;
    Atomics.store(t, C_SEQ, this.seq);
    if (Atomics.load(t, C_SLEEPING) === 1) Atomics.notify(t, C_SEQ);
  }

  /** The first row of the next untaken block of the current product (m or more: none left). */
  take(): number {
    return Atomics.add(this.ctl, C_NEXT, this.ctl[C_BLOCK]);
  }

  /** Rows of C the helper has computed so far, all products together. */
  get rows(): number {
    return Atomics.load(this.ctl, C_ROWS);
  }

  /** Waits until the helper's blocks are written; throws if it failed or stopped answering. */
  finish(): void {
    const t = this.ctl, seq = this.seq;
    // Spin first: the helper's last block ends within about a block's time of this thread's.
    const spinUntil = performance.now() + 2;
    let done = Atomics.load(t, C_DONE);
    for (let i = 0; done !== seq; i++) {
      if ((i & 63) === 63 && performance.now() > spinUntil) break;
      done = Atomics.load(t, C_DONE);
    }
    const t0 = Date.now();
    while (done !== seq) {
      if (Date.now() - t0 > STALL_MS) {
        this.failure ??= new Error(`sparsectr: the product thread did not answer in ${STALL_MS / 1000} s`);
        throw this.failure;
      }
      Atomics.wait(t, C_DONE, done, 1000);
      done = Atomics.load(t, C_DONE);
    }
    this.busy = false;
    if (t[C_ERR] !== 0) {
      this.failure = new Error("sparsectr: a matrix product failed on the helper thread");
      throw this.failure;
    }
  }

  /** Stops the thread (a new engine gets a new helper). */
  close(): void {
    if (this.busy) return;
    this.ctl[C_OP] = OP_QUIT;
    Atomics.store(this.ctl, C_SEQ, (this.seq + 1) | 0);
    Atomics.notify(this.ctl, C_SEQ);
    void this.worker.terminate();
  }
}
