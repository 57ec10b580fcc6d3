import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import { kernelModule } from "../kernels/wasm.js";
import {
  C_DONE, C_ERR, C_JOBS, C_POSTED, C_READY, C_SLEEPING, CONTROL_WORDS, JOB_WORDS, J_HASHES, J_IDS, J_INV, J_KEYS, J_MEM, J_META, J_N,
  J_INIT, J_RECS, J_RESULT, J_TAB, RING, type LookaheadData,
} from "./lookahead-protocol.js";

/** How long a wait for a job may take before the thread is called dead. */
const STALL_MS = 60_000;

/** The words of one dedupLookup call (byte addresses in the memory). */
export interface LookupJob {
  memory: WebAssembly.Memory;
  meta: number; ids: number; n: number; hashes: number; inverse: number; recs: number; keys: number; tab: number; init: number;
}

/**
 * A thread that looks up the next batch's ids in the tables' indexes while
 * the main thread trains on the current batch (see SparseTable.lookahead).
 * Jobs run in the order posted; the thread sleeps between them and is
 * unref'd, so it never keeps the process alive.
 */
export class LookaheadThread {
  private readonly ctl = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly memories = new WeakMap<WebAssembly.Memory, number>();
  private nextMemory = 1;
  private posted = 0;
  private failure: Error | undefined;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    const data: LookaheadData = { module: kernelModule(true), control: this.ctl.buffer as SharedArrayBuffer, port: port2 };
    this.worker = new Worker(new URL("./lookahead-worker.js", import.meta.url), { workerData: data, transferList: [port2] });
    this.worker.unref();
    port1.unref();
    this.port = port1;
    this.worker.on("error", (e) => { this.failure ??= e; });
    this.worker.on("exit", (code) => { this.failure ??= new Error(`sparsectr: the lookahead thread exited (code ${code})`); });
  }

  /** True once the thread runs (it starts through the event loop). */
  get ready(): boolean {
    return this.failure === undefined && Atomics.load(this.ctl, C_READY) === 1;
  }

  /** Resolves once the thread runs; rejects if it failed to start. */
  async started(): Promise<void> {
    while (!this.ready) {
      if (this.failure) throw this.failure;
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Queues a lookup; returns its sequence number for {@link wait}. */
  post(job: LookupJob): number {
    if (this.failure) throw this.failure;
    let id = this.memories.get(job.memory);
    if (id === undefined) {
      id = this.nextMemory++;
      this.memories.set(job.memory, id);
      this.port.postMessage({ id, memory: job.memory });
    }
    const seq = this.posted + 1;
    // A full ring: wait for the oldest job.
    if (seq - Atomics.load(this.ctl, C_DONE) > RING - 1) this.wait(seq - RING + 1);
    const c = this.ctl, j = C_JOBS + (seq % RING) * JOB_WORDS;
    c[j + J_MEM] = id; c[j + J_META] = job.meta; c[j + J_IDS] = job.ids; c[j + J_N] = job.n; c[j + J_HASHES] = job.hashes;
    c[j + J_INV] = job.inverse; c[j + J_RECS] = job.recs; c[j + J_KEYS] = job.keys; c[j + J_TAB] = job.tab; c[j + J_INIT] = job.init;
    this.posted = seq;
    Atomics.store(c, C_POSTED, seq);
    // The worker naps and looks again by itself unless idle for long (see lookahead-worker.ts).
    if (Atomics.load(c, C_SLEEPING) === 1) Atomics.notify(c, C_POSTED);
    return seq;
  }

  /** Waits for job seq; returns its distinct count. Throws if the thread failed or stopped answering. */
  wait(seq: number): number {
    const c = this.ctl;
    let done = Atomics.load(c, C_DONE);
    // A short spin first: the job is usually done or nearly so when asked for.
    for (let i = 0; done < seq && i < 2000; i++) done = Atomics.load(c, C_DONE);
    const t0 = Date.now();
    while (done < seq) {
      if (this.failure) throw this.failure;
      if (Date.now() - t0 > STALL_MS) {
        this.failure = new Error(`sparsectr: the lookahead thread did not answer in ${STALL_MS / 1000} s`);
        throw this.failure;
      }
      Atomics.wait(c, C_DONE, done, 1000);
      done = Atomics.load(c, C_DONE);
    }
    const err = Atomics.load(c, C_ERR);
    if (err !== 0 && err <= seq) {
      this.failure ??= new Error(`sparsectr: an id lookup failed on the lookahead thread`);
      throw this.failure;
    }
    return c[C_JOBS + (seq % RING) * JOB_WORDS + J_RESULT];
  }
}

let thread: LookaheadThread | undefined;

/**
 * The process's lookahead thread, started on first use; undefined until it
 * runs (the caller then looks up on its own thread: the same result).
 */
export function lookaheadThread(): LookaheadThread | undefined {
  thread ??= new LookaheadThread();
  return thread.ready ? thread : undefined;
}

/** Starts the lookahead thread and resolves once it runs. */
export async function lookaheadReady(): Promise<void> {
  thread ??= new LookaheadThread();
  await thread.started();
}
