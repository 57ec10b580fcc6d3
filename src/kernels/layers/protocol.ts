/**
 * The control block shared by the main thread and the product helper thread
 * (an Int32Array over a SharedArrayBuffer). The main thread writes the
 * arguments of a product, then bumps SEQ (and wakes the helper if it
 * sleeps); the helper packs its copy of B and takes blocks of rows (see
 * C_NEXT) until none are left, writes ERR, sets DONE = SEQ and wakes the
 * main thread. Addresses are byte offsets below 4 GiB, stored as their int32 bits.
 */
export const C_SEQ = 0;
export const C_DONE = 1;
export const C_ERR = 2;
export const C_OP = 3;
export const C_LAYOUT = 4;
export const C_A = 5;
export const C_B = 6;
export const C_C = 7;
export const C_M = 8;
export const C_K = 9;
export const C_N = 10;
export const C_WORK = 13;
/** Set to 1 by the helper once it runs (its start needs the main thread's event loop). */
export const C_READY = 14;
/** 1 while the helper sleeps in Atomics.wait: only then does a new job need a (costly) wake-up. */
export const C_SLEEPING = 15;
/**
 * 1 while the caller is in a phase of many products (a training step's
 * forward and backward): the helper then waits for work spinning, not
 * sleeping, so that a hand-over costs well under a microsecond instead of a
 * thread wake-up. At most ACTIVE_SPIN_MS without work, then it sleeps anyway.
 */
export const C_ACTIVE = 16;
/**
 * OP_BLOCKS: the first row of C no thread has taken yet. Each thread takes
 * C_BLOCK rows at a time with Atomics.add until none are left, so that a
 * thread held up (descheduled, slow to wake) leaves its share to the other
 * instead of making it wait.
 */
export const C_NEXT = 17;
export const C_BLOCK = 18;
/** Rows of C the helper has computed, all products together (a statistic). */
export const C_ROWS = 19;
export const CONTROL_WORDS = 20;

/** The longest the helper spins in an active phase without work before it sleeps. */
export const ACTIVE_SPIN_MS = 20;

/** C_OP values. */
export const OP_BLOCKS = 1;
export const OP_QUIT = 2;

/** Data the helper thread starts with. */
export interface LayerWorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
}
