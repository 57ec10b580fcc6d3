/**
 * Whether to split a product between the two threads, learnt per shape
 * (layout, m, k, n) as training runs (the threads then take blocks of rows
 * of C as they go, see protocol.ts). Both choices give the same bits,
 * so they may follow timings: a moving average of the wall time of split
 * and of whole runs; one call in 32 runs the other way (a probe) to keep
 * both current. The first WARM_UP calls alternate and are not counted: they
 * include warm-up (the helper's first calls run before the engine has
 * optimised its code), which made a shape that was split first look several
 * times slower than it is. On a machine whose other core is busy, a split
 * waits for the helper to be scheduled and loses: then products stay whole.
 */
/** Calls of a new shape that alternate split and whole without being timed. */
const WARM_UP = 8;

export class SplitPlanner {
  private static readonly SLOTS = 64;
  // code, m, k, n, split ms, whole ms, calls, split runs, whole runs
  private static readonly W = 9;
  private readonly rec = new Float64Array(SplitPlanner.SLOTS * SplitPlanner.W);
  private made = 0;

  /** The record of this shape, made if new (no timings). */
  slot(code: number, m: number, k: number, n: number): number {
    const r = this.rec, W = SplitPlanner.W, used = Math.min(this.made, SplitPlanner.SLOTS);
    for (let i = 0; i < used * W; i += W) {
      if (r[i] === code && r[i + 1] === m && r[i + 2] === k && r[i + 3] === n) return i;
    }
    const i = (this.made++ % SplitPlanner.SLOTS) * W;
    r.fill(0, i, i + W);
    r[i] = code; r[i + 1] = m; r[i + 2] = k; r[i + 3] = n;
    r[i + 4] = NaN; r[i + 5] = NaN;
    return i;
  }

  /** Whether the next call of this shape is split. */
  split(slot: number): boolean {
    const r = this.rec, calls = ++r[slot + 6];
    const splitMs = r[slot + 4], wholeMs = r[slot + 5];
    if (calls <= WARM_UP) return calls % 2 === 1;
    if (Number.isNaN(splitMs)) return true;
    if (Number.isNaN(wholeMs)) return false;
    if (calls % 32 === 0) return false;
    if (calls % 32 === 16) return true;
    return splitMs < wholeMs;
  }

  /** Records a split call's wall time. */
  splitDone(slot: number, ms: number): void {
    const r = this.rec;
    if (++r[slot + 7] > WARM_UP / 2) r[slot + 4] = average(r[slot + 4], ms, r[slot + 4] > r[slot + 5]);
  }

  /** Records a whole call's wall time. */
  wholeDone(slot: number, ms: number): void {
    const r = this.rec;
    if (++r[slot + 8] > WARM_UP / 2) r[slot + 5] = average(r[slot + 5], ms, r[slot + 5] > r[slot + 4]);
  }
}

/**
 * The moving average after a new run: the first counted run sets it; a run
 * of the way not taken (only probes measure it, one call in 32) weighs 1/2,
 * so that it catches up in a few probes; the way taken weighs 1/5.
 */
function average(old: number, ms: number, probed: boolean): number {
  if (Number.isNaN(old)) return ms;
  return probed ? 0.5 * old + 0.5 * ms : 0.8 * old + 0.2 * ms;
}
