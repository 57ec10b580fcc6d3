/**
 * The slots of one thread's plain admission counts (./admission.ts):
 * (lo, hi, count) u32 triples, a count of 0 marking an empty slot, held in
 * a WebAssembly memory of their own after a piece for the counts' kernel
 * (kernels/assembly/counts.ts countPlain), which counts or looks up a
 * call's keys a piece at a time, deduplicated, with their home slots loaded
 * ahead (their cache misses overlap). Slots too many for one memory (past
 * MAX_KERNEL_BYTES) are a plain array, counted by Admission itself.
 */
import { countInPiece, countsKernels, pieceLayout, type PieceCounts } from "../kernels/counts.js";
import type { CountsModule } from "../kernels/generated/counts-exports.js";

const PAGE = 65536;
/** Bytes of slots at most in a memory of their own (a 32-bit memory holds 4 GiB; the rest are counted in JavaScript). */
const MAX_KERNEL_BYTES = 2 ** 31;
/** Words per slot: lo, hi, count. */
const STRIDE = 3;

export class PlainSlots {
  /** The slots' words (cap x 3). */
  readonly words: Uint32Array;
  private readonly kernel: CountsModule | undefined;
  private readonly u32: Uint32Array | undefined;

  /** Empty slots, `cap` of them (a power of two). */
  constructor(readonly cap: number) {
    const layout = pieceLayout(), bytes = cap * STRIDE * 4;
    if (layout.bytes + bytes > MAX_KERNEL_BYTES) {
      this.words = new Uint32Array(cap * STRIDE);
      return;
    }
    const pages = Math.ceil((layout.bytes + bytes) / PAGE);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.kernel = countsKernels(memory);
    this.u32 = new Uint32Array(memory.buffer);
    this.words = new Uint32Array(memory.buffer, layout.bytes, cap * STRIDE);
  }

  /** Keys one call of {@link count} takes; 0 when these slots have no kernel (Admission counts them itself). */
  get pieceKeys(): number {
    return this.kernel === undefined ? 0 : pieceLayout().keys;
  }

  /**
   * Counts (`count`: an occurrence each, a new key's first count 1) or looks
   * up the m keys from..from + m of `words` ((lo, hi) pairs; m at most
   * {@link pieceKeys}) in order, as Admission's increment and find do;
   * admitAt is the count that admits a key (0: none does). The caller has
   * made room for m new keys.
   */
  count(words: Uint32Array, from: number, m: number, count: boolean, admitAt: number): PieceCounts {
    return countInPiece(this.u32!, 0, words, from, m, () => this.kernel!.countPlain(pieceLayout().bytes, this.cap, 0, m, count ? 1 : 0, admitAt));
  }
}
