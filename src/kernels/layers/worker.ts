import { performance } from "node:perf_hooks";
import { workerData } from "node:worker_threads";
import { layerImports } from "./module.js";
import { bindExports } from "../bind.js";
import type { LayerModule } from "../generated/layer-exports.js";
import {
  ACTIVE_SPIN_MS, C_ACTIVE, C_A, C_B, C_BLOCK, C_C, C_DONE, C_ERR, C_K, C_LAYOUT, C_M, C_N, C_NEXT, C_OP, C_READY, C_ROWS, C_SEQ, C_SLEEPING, C_WORK,
  OP_QUIT, type LayerWorkerData,
} from "./protocol.js";

/**
 * The product helper thread: its own instance of the layer module over the
 * main thread's shared memory, running the blocks of rows it takes (see
 * protocol.ts) with its own copy of packed B. It never allocates in the
 * memory, so the instances agree on nothing but the addresses they are passed.
 */
const { module, memory, control } = workerData as LayerWorkerData;
const ex = bindExports<Pick<LayerModule, "sgemmPackB" | "sgemmBlock">>(
  new WebAssembly.Instance(module, layerImports(memory)).exports, ["sgemmPackB", "sgemmBlock"], "layers.wasm",
);
const ctl = new Int32Array(control);
let seen = Atomics.load(ctl, C_SEQ);
Atomics.store(ctl, C_READY, 1);

/**
 * The next job's sequence number. In an active phase the helper spins (up to
 * ACTIVE_SPIN_MS without work); otherwise, or after that, it sleeps until a
 * job or an active phase comes (spinning outside a phase took a core the
 * reader thread and other processes needed, and cost more than it saved).
 */
function next(): number {
  for (;;) {
    const until = performance.now() + ACTIVE_SPIN_MS;
    for (let i = 0; ; i++) {
      const seq = Atomics.load(ctl, C_SEQ);
      if (seq !== seen) return seq;
      if ((i & 63) === 63 && (Atomics.load(ctl, C_ACTIVE) !== 1 || performance.now() > until)) break;
    }
    Atomics.store(ctl, C_SLEEPING, 1);
    Atomics.wait(ctl, C_SEQ, seen);
    Atomics.store(ctl, C_SLEEPING, 0);
  }
}

for (;;) {
  const seq = next();
  seen = seq;
  if (ctl[C_OP] === OP_QUIT) break;
  let err = 0;
  try {
    const layout = ctl[C_LAYOUT], a = ctl[C_A] >>> 0, c = ctl[C_C] >>> 0, m = ctl[C_M], k = ctl[C_K], n = ctl[C_N];
    const work = ctl[C_WORK] >>> 0, block = ctl[C_BLOCK];
    // Blocks may all be taken already (this thread was slow to start): then B is not packed for nothing.
    if (Atomics.load(ctl, C_NEXT) < m) ex.sgemmPackB(layout, ctl[C_B] >>> 0, m, k, n, work, 1);
    for (;;) {
      const i0 = Atomics.add(ctl, C_NEXT, block);
      if (i0 >= m) break;
      const i1 = Math.min(m, i0 + block);
      ex.sgemmBlock(layout, a, c, m, k, n, i0, i1, work, 1);
      Atomics.add(ctl, C_ROWS, i1 - i0);
    }
  } catch {
    err = 1;
  }
  ctl[C_ERR] = err;
  Atomics.store(ctl, C_DONE, seq);
  Atomics.notify(ctl, C_DONE);
}
