/**
 * How a data-parallel worker (./parallel-worker.ts) waits at its rounds'
 * barriers: it spins on the word for a while, then sleeps in Atomics.wait.
 *
 * A sleeping thread is woken through the kernel: tens of microseconds or
 * more on a virtual machine, twice a round on the run's critical path,
 * where a round of dense updates split over 16 workers is 32 rows (a few
 * hundred microseconds). A spinning one sees the word change at once. A
 * spinner holds its core, so a run with more workers than cores never
 * spins (the worker it waits for may need that core), and the spin is
 * bounded: a wait past it sleeps (a worker far behind, or the coordinator
 * working while the workers are parked, which is not waited for here).
 */
import { availableParallelism } from "node:os";

/**
 * Milliseconds a worker spins before it sleeps, with `workers` workers on
 * this machine: 0 when they outnumber the cores.
 */
export function spinMillis(workers: number, cores = availableParallelism()): number {
  return workers <= cores ? SPIN_MS : 0;
}

/** About a round of a worker's batch at 2 workers (dcn: 1.5-2 ms for 256 rows); longer waits sleep. */
const SPIN_MS = 1;

/**
 * Returns once `done()` holds: checks it in a loop for up to `spinMs`
 * milliseconds, then sleeps on word `index` of `ctl` (Atomics.wait on the
 * value it last read, so a change between the read and the sleep is not
 * missed; the writer notifies that word) until it holds.
 */
export function waitUntil(ctl: Int32Array, index: number, done: (value: number) => boolean, spinMs: number): void {
  let v = Atomics.load(ctl, index);
  if (done(v)) return;
  if (spinMs > 0) {
    const until = performance.now() + spinMs;
    for (let i = 1; ; i++) {
      v = Atomics.load(ctl, index);
      if (done(v)) return;
      if ((i & 63) === 0 && performance.now() > until) break;
    }
  }
  while (!done(v)) {
    Atomics.wait(ctl, index, v, 1000);
    v = Atomics.load(ctl, index);
  }
}
