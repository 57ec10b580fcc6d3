import { receiveMessageOnPort, workerData } from "node:worker_threads";
import { wasmAbort } from "../kernels/wasm.js";
import { bindExports } from "../kernels/bind.js";
import type { KernelModule } from "../kernels/generated/kernel-exports.js";
import {
  C_DONE, C_ERR, C_JOBS, C_NAP, C_POSTED, C_READY, C_SLEEPING, JOB_WORDS, J_HASHES, J_IDS, J_INV, J_KEYS, J_MEM, J_META, J_N, J_RECS,
  J_INIT, J_RESULT, J_TAB, RING, type LookaheadData,
} from "./lookahead-protocol.js";

/**
 * The lookahead thread: runs dedupLookup for the tables' next batches over
 * their shared memories, one kernel instance per memory. It only reads the
 * tables (and writes the job's own scratch), and sleeps in Atomics.wait
 * between jobs.
 */
type Lookup = KernelModule["dedupLookup"];
const { module, control, port } = workerData as LookaheadData;
const ctl = new Int32Array(control);
const lookups = new Map<number, Lookup>();

function lookupOf(id: number): Lookup {
  for (;;) {
    const f = lookups.get(id);
    if (f) return f;
    // The memory was posted before the job, but a message may take a moment to land.
    const m = receiveMessageOnPort(port);
    if (m) {
      const { id: mid, memory } = m.message as { id: number; memory: WebAssembly.Memory };
      const instance = new WebAssembly.Instance(module, { env: { memory, abort: wasmAbort } });
      const ex = bindExports<Pick<KernelModule, "dedupLookup">>(instance.exports, ["dedupLookup"], "kernels-shared.wasm");
      lookups.set(mid, ex.dedupLookup);
    } else {
      Atomics.wait(ctl, C_NAP, 0, 0.1);
    }
  }
}

/**
 * Waits for a job after `done`. It naps 1 ms at a time rather than being
 * notified, because a notify costs the posting thread a cross-core wake-up
 * (far dearer than a nap's latency), and a lookup has a whole dense step to
 * finish in; after NAPS idle naps it sleeps until notified.
 */
function nextPosted(): number {
  for (let naps = 0; ; naps++) {
    const posted = Atomics.load(ctl, C_POSTED);
    if (posted !== done) return posted;
    if (naps < NAPS) {
      Atomics.wait(ctl, C_POSTED, done, 1);
    } else {
      Atomics.store(ctl, C_SLEEPING, 1);
      Atomics.wait(ctl, C_POSTED, done);
      Atomics.store(ctl, C_SLEEPING, 0);
    }
  }
}

const NAPS = 200;
let done = 0;
Atomics.store(ctl, C_READY, 1);
for (;;) {
  const posted = nextPosted();
  while (done !== posted) {
    const seq = done + 1, j = C_JOBS + (seq % RING) * JOB_WORDS;
    try {
      const f = lookupOf(ctl[j + J_MEM]);
      ctl[j + J_RESULT] = f(
        ctl[j + J_META] >>> 0, ctl[j + J_IDS] >>> 0, ctl[j + J_N], ctl[j + J_HASHES] >>> 0, ctl[j + J_INV] >>> 0,
        ctl[j + J_RECS] >>> 0, ctl[j + J_KEYS] >>> 0, ctl[j + J_TAB] >>> 0, ctl[j + J_INIT] >>> 0,
      );
    } catch {
      Atomics.compareExchange(ctl, C_ERR, 0, seq);
    }
    done = seq;
    Atomics.store(ctl, C_DONE, done);
    Atomics.notify(ctl, C_DONE);
  }
}
