/**
 * How a data-parallel worker (./parallel-worker.ts) waits at its rounds'
 * barriers: it spins on the word for a while, then sleeps in Atomics.wait,
 * and stops spinning while its waits mostly outlast the spin.
 *
 * A sleeping thread is woken through the kernel: tens of microseconds or
 * more on a virtual machine, twice a round on the run's critical path,
 * where a round of dense updates split over 16 workers is 32 rows (a few
 * hundred microseconds). A spinning one sees the word change at once. A
 * spinner holds its core, so a run with more workers than cores never
 * spins (the worker it waits for may need that core), and the spin is
 * bounded: a wait past it sleeps (a worker far behind, or the coordinator
 * working while the workers are parked, which is not waited for here).
 *
 * A process cannot see the other processes on its machine (several
 * cluster processes on one machine, a neighbour's job), which can
 * oversubscribe the cores too. Its waits show it: a thread it waits for
 * that has no core takes longer than the spin. Measured with
 * bench/threads-run.js (dcn, 1M generated rows, 2 split workers on 2
 * cores, not spinning): about 8% of the waits that did not return at once
 * took over 1 ms alone, about 52% with a second such process beside it,
 * where a 1 ms spin made both runs about 30% slower (14.2-15.3 s against
 * 10.9-11.7 s). So a Waiter keeps a moving fraction of its waits that
 * took longer than its spin (spinning or not, the time is the same
 * evidence), stops spinning above LATE_OFF and starts again below LATE_ON.
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
/** The moving fraction of late waits above which a Waiter stops spinning, and below which it spins again. */
export const LATE_OFF = 0.3, LATE_ON = 0.15;
/** The weight of the newest wait in the moving fraction (about the last 16 waits). */
const LATE_WEIGHT = 1 / 16;

/**
 * Returns once `done()` holds: checks it in a loop for up to `spinMs`
 * milliseconds, then sleeps on word `index` of `ctl` (Atomics.wait on the
 * value it last read, so a change between the read and the sleep is not
 * missed; the writer notifies that word) until it holds. Returns the
 * milliseconds it waited, 0 when the condition held at once (the clock not
 * read).
 */
export function waitUntil(ctl: Int32Array, index: number, done: (value: number) => boolean, spinMs: number): number {
  let v = Atomics.load(ctl, index);
  if (done(v)) return 0;
  const t0 = performance.now();
  if (spinMs > 0) {
    const until = t0 + spinMs;
    for (let i = 1; ; i++) {
      v = Atomics.load(ctl, index);
      if (done(v)) return performance.now() - t0;
      if ((i & 63) === 0 && performance.now() > until) break;
    }
  }
  while (!done(v)) {
    Atomics.wait(ctl, index, v, 1000);
    v = Atomics.load(ctl, index);
  }
  return performance.now() - t0;
}

/**
 * One thread's waits (waitUntil), spinning up to `spinMs` (spinMillis) while
 * few of them take longer than that (see the file's comment).
 */
export class Waiter {
  /** The moving fraction of waits (those that did not return at once) longer than spinMs. */
  late = 0;
  /** Whether the next wait spins. */
  spinning: boolean;

  constructor(readonly spinMs: number) {
    this.spinning = spinMs > 0;
  }

  /** waitUntil, spinning or not as the waits so far say. */
  wait(ctl: Int32Array, index: number, done: (value: number) => boolean): void {
    const ms = waitUntil(ctl, index, done, this.spinning ? this.spinMs : 0);
    if (ms > 0) this.observe(ms);
  }

  /** Takes a wait of `ms` milliseconds into the fraction, and decides whether the next wait spins. */
  observe(ms: number): void {
    if (this.spinMs <= 0) return;
    this.late += ((ms > this.spinMs ? 1 : 0) - this.late) * LATE_WEIGHT;
    if (this.spinning ? this.late > LATE_OFF : this.late < LATE_ON) this.spinning = !this.spinning;
  }
}
