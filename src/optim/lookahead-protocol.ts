import type { MessagePort } from "node:worker_threads";

/**
 * The lookahead thread's control block (Int32Array over a SharedArrayBuffer):
 * a ring of job slots written by the main thread, run in order by the worker.
 */
export const C_POSTED = 0; // sequence number of the last job posted
export const C_DONE = 1; // sequence number of the last job finished
export const C_READY = 2; // 1 once the worker runs
export const C_ERR = 3; // sequence number of the first job that failed, or 0
export const C_NAP = 4; // never written: the worker waits on it briefly for a memory to arrive
export const C_SLEEPING = 5; // 1 while the worker sleeps until notified (idle for a while)
export const C_JOBS = 8;

/** One job: the words of a dedupLookup call and where its result goes. */
export const J_MEM = 0; // id of the memory (see LookaheadData.port)
export const J_META = 1;
export const J_IDS = 2;
export const J_N = 3;
export const J_HASHES = 4;
export const J_INV = 5;
export const J_RECS = 6;
export const J_KEYS = 7;
export const J_TAB = 8;
export const J_RESULT = 9; // the distinct count
export const J_INIT = 10;
export const JOB_WORDS = 11;
export const RING = 64;
export const CONTROL_WORDS = C_JOBS + RING * JOB_WORDS;

export interface LookaheadData {
  module: WebAssembly.Module;
  control: SharedArrayBuffer;
  /** Brings { id, memory } for each memory before its first job. */
  port: MessagePort;
}
