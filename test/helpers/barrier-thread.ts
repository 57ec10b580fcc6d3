// The threads of the barrier test (test/unit/barrier.test.ts), and
// runBarrier, which starts them: each thread goes through rounds of the
// data-parallel workers' barrier (an arrival count, the last to arrive bumps
// a generation; the others wait for it with train/barrier.ts waitUntil),
// marking the round in its own slot before it arrives and checking every
// slot after it leaves.
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { once } from "node:events";
import { waitUntil } from "../../src/train/barrier.js";

interface BarrierJob {
  ctl: SharedArrayBuffer;
  slots: SharedArrayBuffer;
  worker: number;
  threads: number;
  rounds: number;
  spinMs: number;
}

const ARRIVED = 0, GEN = 1, GATE = 2;

/**
 * Runs `threads` threads through `rounds` rounds of the barrier, spinning
 * `spinMs` before sleeping; returns, summed over the threads, the rounds in
 * which a thread left the barrier before another had arrived at it.
 */
export async function runBarrier(threads: number, rounds: number, spinMs: number): Promise<number> {
  const ctl = new SharedArrayBuffer(16), slots = new SharedArrayBuffer(4 * threads);
  new Int32Array(slots).fill(-1);
  const ws = Array.from({ length: threads }, (_, worker) => new Worker(new URL(import.meta.url), { workerData: { ctl, slots, worker, threads, rounds, spinMs } satisfies BarrierJob }));
  const results = ws.map((w) => once(w, "message").then(([early]) => early as number));
  const c = new Int32Array(ctl);
  Atomics.store(c, GATE, 1);
  Atomics.notify(c, GATE);
  const early = await Promise.all(results);
  await Promise.all(ws.map((w) => w.terminate()));
  return early.reduce((a, b) => a + b, 0);
}

if (!isMainThread && (workerData as BarrierJob | undefined)?.slots !== undefined) {
  const job = workerData as BarrierJob, ctl = new Int32Array(job.ctl), slots = new Int32Array(job.slots);
  while (Atomics.load(ctl, GATE) === 0) Atomics.wait(ctl, GATE, 0, 100);
  let early = 0;
  for (let r = 0; r < job.rounds; r++) {
    Atomics.store(slots, job.worker, r);
    const gen = Atomics.load(ctl, GEN);
    if (Atomics.add(ctl, ARRIVED, 1) + 1 === job.threads) {
      Atomics.store(ctl, ARRIVED, 0);
      Atomics.add(ctl, GEN, 1);
      Atomics.notify(ctl, GEN);
    } else {
      waitUntil(ctl, GEN, (v) => v !== gen, job.spinMs);
    }
    for (let k = 0; k < job.threads; k++) if (Atomics.load(slots, k) < r) { early++; break; }
  }
  parentPort!.postMessage(early);
}
