/**
 * The features the workers of a cluster run have counted, shared through
 * the store (feature admission across workers). Each worker counts the
 * occurrences in its own part of the rows (../train/admission.ts); without
 * sharing, a feature met once by each of two workers is admitted by neither
 * with `--min-count 2`, where one process reading both parts admits it at
 * its second occurrence. Here each worker adds every key it counts to a
 * Bloom filter of its own (../util/bloom.ts) and, at each synchronisation
 * of its tables, ORs the segments it changed into the run's filter in the
 * store and reads the run's filter back; a key the run's filter holds
 * counts one sighting more at its first occurrence on this worker
 * (Admission.elsewhere). The filter is the store's as of the worker's last
 * synchronisation; a false positive (about fill^k, reported) admits a
 * feature one sighting early.
 *
 * The filter is exchanged whole at every synchronisation (the segments
 * changed are sent, every segment is read): its size (`--sightings-bytes`)
 * is traffic per synchronisation, so it suits runs of up to some tens of
 * millions of distinct features; 0 turns the sharing off.
 */
import { BloomFilter } from "../util/bloom.js";
import type { Sightings, SightingsShare } from "../train/admission.js";
import type { ClusterStore } from "./store.js";

/** Default size of the run's filter: 4 MiB (2^25 bits: about 0.6% false positives at 2.2M features, 3% at 5M). */
export const DEFAULT_SIGHTINGS_BYTES = 4 * 2 ** 20;

/** Words of a segment of the filter (64 KiB), the unit of the exchange. */
const SEGMENT_WORDS = 1 << 14;

/** Probes per key. */
const PROBES = 3;

/** Checks a filter size: 0 (no sharing) or a power of two from 64 KiB to 1 GiB. */
export function checkSightingsBytes(bytes: number): void {
  if (bytes === 0) return;
  if (!Number.isSafeInteger(bytes) || bytes < 4 * SEGMENT_WORDS || bytes > 2 ** 30 || !Number.isInteger(Math.log2(bytes))) {
    throw new RangeError(`--sightings-bytes ${bytes}: use 0 (each worker counts alone) or a power of two from 64K to 1G`);
  }
}

export class ClusterSightings implements Sightings {
  /** The keys this worker counted. */
  private readonly own: BloomFilter;
  /** The run's keys as the store held them at this worker's last synchronisation. */
  private readonly run: BloomFilter;

  constructor(bytes: number) {
    checkSightingsBytes(bytes);
    // In shared memory: a worker of the run training with threads counts through shared admission counts (share).
    this.own = new BloomFilter(bytes * 8, PROBES, SEGMENT_WORDS, true);
    this.run = new BloomFilter(bytes * 8, PROBES, SEGMENT_WORDS, true);
  }

  /** The filters for worker threads: they add the keys they count first to this worker's filter and consult the run's. */
  share(): SightingsShare { return { own: this.own.state(), run: this.run.state() }; }

  add(lo: number, hi: number): void { this.own.add(lo, hi); }
  seen(lo: number, hi: number): boolean { return this.run.has(lo, hi); }

  /** Adds the keys of (lo, hi, count) triples (counts restored from a checkpoint). */
  addEntries(entries: Uint32Array): void {
    for (let i = 0; i < entries.length; i += 3) this.own.add(entries[i], entries[i + 1]);
  }

  /** About the share of keys never counted that the run's filter reports as counted. */
  falsePositiveRate(): number { return this.run.falsePositiveRate(); }

  /**
   * ORs the segments of this worker's filter changed since the last
   * exchange into the store's and reads every segment back; resolves to the
   * write of the run's filter (applied on the training thread).
   */
  async exchange(store: ClusterStore): Promise<() => void> {
    const changed = new Set(this.own.takeChanged());
    const got = await Promise.all(Array.from({ length: this.run.segments }, (_, s) =>
      changed.has(s) ? store.orSightings(s, this.own.segment(s)) : store.sightings(s)));
    return () => got.forEach((w, s) => { if (w) this.run.orSegment(s, w); });
  }
}
